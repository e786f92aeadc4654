"""Reliability of the cache: checksums (a damaged entry is reported and recomputed), chunked resumable scoring (a run
SIGKILLed half-way resumes without redoing finished chunks and ends bit-identical), file locks between runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from _paths import REPO as REPO_ROOT
from _smoke_pool import smoke_pool, smoke_pool_file

from harness import scoring
from harness.core import cache, chunks, distributed
from harness.core.errors import InputError
from harness.core.scores import list_scores
from harness.scoring import merge_meta
from reward_models import get_rm
from reward_models.implicit import ImplicitPRM

REPO = REPO_ROOT


def flip_digit(path: Path, after: bytes = b"step_scores") -> None:
    """Change one digit of a number so the file still parses as JSON: only the checksum can tell."""
    data = bytearray(path.read_bytes())
    at = data.index(after)
    while not chr(data[at]).isdigit() or data[at] == ord("0"):
        at += 1
    data[at] = ord("1") if data[at] != ord("1") else ord("2")
    path.write_bytes(bytes(data))


@pytest.fixture
def pair(tiny_lm_dir, cache_root):
    return str(tiny_lm_dir("nano", 1)), str(tiny_lm_dir("nano", 0))  # (policy, reference)


@pytest.fixture
def calls(monkeypatch):
    """Record the first problem id of every pool slice an implicit PRM computes scores for."""
    seen: list[str] = []
    original = ImplicitPRM.compute_scores

    def counting(self, pool):
        seen.append(pool.problems[0].id)
        return original(self, pool)
    monkeypatch.setattr(ImplicitPRM, "compute_scores", counting)
    return seen


def implicit(pair):
    return get_rm("implicit_ce", model=pair[0], ref=pair[1], progress=False)


# --- checked entries -----------------------------------------------------------------------------------------------

def test_checked_entry_round_trip_sidecar_and_legacy(tmp_path, capsys):
    import hashlib
    path = tmp_path / "e" / "x.json"
    cache.write_json_checked(path, {"a": [1.5, -0.0, 1e-300]})
    assert cache.read_json_checked(path) == {"a": [1.5, -0.0, 1e-300]}
    digest, name = cache.checksum_path(path).read_text().split()
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest() and name == "x.json"  # `sha256sum -c` format
    cache.checksum_path(path).unlink()  # an entry from before checksums is still read
    assert cache.read_json_checked(path) == {"a": [1.5, -0.0, 1e-300]}
    assert cache.read_json_checked(tmp_path / "missing.json") is None
    assert capsys.readouterr().err == ""
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.json"]  # no temporary file left


def test_damaged_entry_is_one_warning_naming_the_file(tmp_path, capsys):
    path = tmp_path / "x.json"
    cache.write_json_checked(path, {"v": 12345})
    flip_digit(path, b"v")
    assert json.loads(path.read_text())["v"] != 12345  # still valid JSON, wrong number
    assert cache.read_json_checked(path) is None
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"warning: corrupt cache entry {path} (checksum mismatch); recomputing it"]
    path.write_text("{not json")  # without a sidecar: unreadable is damaged too
    cache.checksum_path(path).unlink()
    assert cache.read_json_checked(path) is None
    assert str(path) in capsys.readouterr().err


def test_chunk_plan_and_setting(monkeypatch):
    assert chunks.plan_chunks(12, 5) == [(0, 5), (5, 10), (10, 12)]
    assert chunks.plan_chunks(4, 32) == [(0, 4)] and chunks.plan_chunks(0, 3) == []
    monkeypatch.setenv("HARNESS_CHUNK_PROBLEMS", "7")
    assert chunks.chunk_problems() == 7
    for bad in ("0", "x"):
        monkeypatch.setenv("HARNESS_CHUNK_PROBLEMS", bad)
        with pytest.raises(InputError) as e:
            chunks.chunk_problems()
        assert e.value.field == "HARNESS_CHUNK_PROBLEMS"


def test_counts_add_up_when_chunks_merge():
    assert merge_meta([{"model": "m", "truncated": 2, "beta": 0.05, "ok": True},
                       {"model": "m", "truncated": 3, "beta": 0.05, "ok": True}]) == \
        {"model": "m", "truncated": 5, "beta": 0.05, "ok": True}


# --- score entries ------------------------------------------------------------------------------------------------

def test_flipped_byte_in_cached_score_file_is_reported_and_recomputed(pair, calls, capsys, monkeypatch):
    monkeypatch.setenv("HARNESS_CHUNK_PROBLEMS", "4")
    pool = smoke_pool()
    first = implicit(pair).score(pool)
    assert len(calls) == 3
    path = implicit(pair).score_path(pool)
    assert path.is_file() and cache.checksum_path(path).is_file()
    assert not path.with_suffix(".chunks").exists()  # merged: the chunks are gone
    pristine = path.read_bytes()
    flip_digit(path)
    capsys.readouterr()

    assert list_scores(pool.content_hash()) == []  # the leaderboard never uses it ...
    assert "ignoring it" in capsys.readouterr().err
    again = implicit(pair).score(pool)  # ... and the next score run says so and recomputes it
    err = [ln for ln in capsys.readouterr().err.splitlines() if "warning" in ln]
    assert err == [f"warning: corrupt cache entry {path} (checksum mismatch); recomputing it"]
    assert len(calls) == 6
    assert again.step_scores == first.step_scores and path.read_bytes() == pristine
    implicit(pair).score(pool)
    assert len(calls) == 6 and "warning" not in capsys.readouterr().err  # healthy again: read from the cache


def test_interrupted_scoring_resumes_and_a_damaged_chunk_is_redone(pair, calls, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_CHUNK_PROBLEMS", "3")
    pool = smoke_pool()
    with cache.using(tmp_path / "uninterrupted"):
        baseline = implicit(pair).score(pool)
    calls.clear()

    original = ImplicitPRM.compute_scores

    def dies_at_third(self, part):
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, part)
    monkeypatch.setattr(ImplicitPRM, "compute_scores", dies_at_third)
    with pytest.raises(KeyboardInterrupt):
        implicit(pair).score(pool)
    monkeypatch.undo()
    monkeypatch.setenv("HARNESS_CHUNK_PROBLEMS", "3")
    path = implicit(pair).score_path(pool)
    chunks = sorted(path.with_suffix(".chunks").glob("*.json"))
    assert [c.name for c in chunks] == ["0000000-0000003.json", "0000003-0000006.json"] and not path.exists()
    flip_digit(chunks[1], b"steps")

    seen: list[str] = []
    monkeypatch.setattr(ImplicitPRM, "compute_scores", lambda self, part: (seen.append(part.problems[0].id),
                                                                           original(self, part))[1])
    capsys.readouterr()
    resumed = implicit(pair).score(pool)
    err = capsys.readouterr().err
    assert seen == ["smoke/3", "smoke/6", "smoke/9"]  # chunk 0 was kept; chunk 1 was damaged
    assert f"corrupt cache entry {chunks[1]}" in err and "resuming, 1 of 4 chunks already done" in err
    assert resumed.step_scores == baseline.step_scores  # bit for bit
    assert not path.with_suffix(".chunks").exists()


def test_scoring_killed_half_way_resumes_bit_identical(pair, tmp_path, monkeypatch):
    """SIGKILL a `score` run after some chunks are finished; the restart computes only the rest and ends with the
    same bytes as an uninterrupted run."""
    monkeypatch.setenv("HARNESS_CHUNK_PROBLEMS", "2")  # 6 chunks
    pool_file = smoke_pool_file(tmp_path / "pool.jsonl")
    pool = smoke_pool()
    with cache.using(tmp_path / "uninterrupted"):
        baseline_path = implicit(pair).score_path(pool)
        implicit(pair).score(pool)

    killed = tmp_path / "killed"
    env = dict(os.environ, OMP_NUM_THREADS="1", HARNESS_CHUNK_PROBLEMS="2", HARNESS_CHUNK_DELAY="0.4")
    proc = subprocess.Popen([sys.executable, "-m", "harness", "--cache-dir", str(killed), "score", "--rm",
                             "implicit_ce", "--pool", str(pool_file), "--model", pair[0], "--ref", pair[1],
                             "--set", "progress=false", "--threads", "1"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 90
    try:
        while True:
            done = list(killed.glob("scores/*/implicit_ce-*.chunks/*.json"))
            if len(done) >= 2 or proc.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    with cache.using(killed):
        path = implicit(pair).score_path(pool)
        finished = sorted(path.with_suffix(".chunks").glob("*.json"))
        assert 2 <= len(finished) < 6 and not path.exists()
        before = {f.name: f.read_bytes() for f in finished}

        seen: list[int] = []
        original = ImplicitPRM.compute_scores
        monkeypatch.setattr(ImplicitPRM, "compute_scores", lambda self, part: (
            seen.append(int(part.problems[0].id.split("/")[1])), original(self, part))[1])
        implicit(pair).score(pool)
    starts = {int(name.split("-")[0]) for name in before}
    assert len(seen) == 6 - len(finished) and not starts & set(seen)  # finished chunks were not recomputed
    assert set(seen) | starts == {0, 2, 4, 6, 8, 10}
    assert path.read_bytes() == baseline_path.read_bytes()  # identical to the uninterrupted run, bit for bit
    assert cache.read_json_checked(path) is not None


def test_reference_log_probs_resume_and_checksum(tiny_lm_dir, cache_root, monkeypatch, capsys):
    from reward_models.lm import logp_cache
    from reward_models.lm.logp_cache import cached_step_logps
    monkeypatch.setenv("HARNESS_CHUNK_PROBLEMS", "5")  # 3 chunks
    ref, pool = str(tiny_lm_dir("nano", 0)), smoke_pool()
    with cache.using(cache_root / "once"):
        baseline = cached_step_logps(ref, pool, progress=False)

    original, calls, interrupt = logp_cache.step_logps, [], [True]

    def step_logps(*a, **k):
        calls.append(1)
        if interrupt[0] and len(calls) == 2:
            raise KeyboardInterrupt
        return original(*a, **k)
    monkeypatch.setattr(logp_cache, "step_logps", step_logps)  # where it is called: bound there at import
    with pytest.raises(KeyboardInterrupt):
        cached_step_logps(ref, pool, progress=False)
    calls.clear()
    interrupt[0] = False
    assert cached_step_logps(ref, pool, progress=False) == baseline
    assert len(calls) == 2  # the first chunk came from disk
    (entry,) = (cache_root / "reflogps").glob("*.json")
    flip_digit(entry, b"step_logps")
    capsys.readouterr()
    assert cached_step_logps(ref, pool, progress=False) == baseline
    assert f"corrupt cache entry {entry}" in capsys.readouterr().err and len(calls) == 2 + 3


def test_lock_makes_a_concurrent_run_wait_then_reuse_the_entry(cache_root, capsys, monkeypatch):
    """While one run holds an entry's lock, a second one waits, then finds the entry instead of computing it."""
    from reward_models.baselines import RandomRM
    pool = smoke_pool(problems=3, responses=2)
    rm = get_rm("random", seed=5)
    path = rm.score_path(pool)
    computed = []
    original = RandomRM.compute_scores
    monkeypatch.setattr(RandomRM, "compute_scores", lambda self, p: (computed.append(1), original(self, p))[1])
    result = {}
    with chunks.locked(path):
        worker = threading.Thread(target=lambda: result.setdefault("ss", get_rm("random", seed=5).score(pool)))
        worker.start()
        time.sleep(0.5)
        assert worker.is_alive() and "ss" not in result  # waiting for the lock
        theirs = scoring.compute_chunks(get_rm("random", seed=5), pool, rm.score_key(pool), path, distributed.current())
    worker.join(30)
    assert not worker.is_alive()
    assert computed == [1]  # only the lock holder computed
    assert result["ss"].step_scores == theirs.step_scores
    assert "waiting for another run that is writing" in capsys.readouterr().err
    assert chunks.lock_path(path).parent == cache_root / "locks"  # lock files stay apart from the products
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".sha256"]


# --- verified folders, checkpoints, pools, the grading cache -------------------------------------------------------

def flip_byte_near_end(path: Path) -> None:
    """Flip one bit in the last quarter of a binary file (inside the tensor data of a safetensors file)."""
    data = bytearray(path.read_bytes())
    data[len(data) * 3 // 4] ^= 0x01
    path.write_bytes(bytes(data))


def test_folder_manifest_verifies_adopts_and_rejects(tmp_path, capsys):
    import hashlib
    folder = tmp_path / "ckpt"
    (folder / "sub").mkdir(parents=True)
    (folder / "w.bin").write_bytes(b"\x00\x01" * 100)
    (folder / "sub" / "c.json").write_text('{"a": 1}')
    cache.write_manifest(folder)
    lines = (folder / cache.MANIFEST).read_text().splitlines()
    digests = [hashlib.sha256(b'{"a": 1}').hexdigest(), hashlib.sha256(b"\x00\x01" * 100).hexdigest()]
    assert lines == [f"{digests[0]}  sub/c.json", f"{digests[1]}  w.bin"]  # `sha256sum -c` format
    assert cache.check_dir(folder) and capsys.readouterr().err == ""

    (folder / cache.MANIFEST).unlink()  # legacy: accepted, and adopted
    assert cache.check_dir(folder) and (folder / cache.MANIFEST).read_text().splitlines() == lines

    flip_byte_near_end(folder / "w.bin")
    assert not cache.check_dir(folder, "retraining it")
    assert capsys.readouterr().err.splitlines() == [
        f"warning: corrupt cache entry {folder / 'w.bin'} (checksum mismatch); retraining it"]
    assert not folder.exists() and list(tmp_path.iterdir()) == []  # removed, nothing left aside

    folder.mkdir()
    (folder / "w.bin").write_bytes(b"x")
    cache.write_manifest(folder)
    (folder / "w.bin").unlink()
    assert not cache.check_dir(folder) and "w.bin (missing)" in capsys.readouterr().err
    assert not cache.check_dir(tmp_path / "absent") and capsys.readouterr().err == ""


def test_damaged_checkpoint_is_reported_and_retrained_legacy_one_is_used(tiny_lm_dir, cache_root, capsys,
                                                                         monkeypatch):
    from reward_models.implicit import PolicyRatio
    from reward_models.training import loop as modeling
    from reward_models.training.loop import TrainConfig, train
    base, pool = str(tiny_lm_dir("nano", 0)), smoke_pool()
    loads: list[int] = []
    original = modeling.load_causal_lm
    monkeypatch.setattr(modeling, "load_causal_lm",  # the training loop's, bound there at import
                        lambda *a, **k: (loads.append(1), original(*a, **k))[1])
    cfg = TrainConfig(batch_size=32, seed=3)

    out = train(PolicyRatio(), "implicit_ce", base, pool, cfg, progress=False)
    assert len(loads) == 1 and (out / cache.MANIFEST).is_file()
    weights = out / "model.safetensors"
    pristine = weights.read_bytes()
    assert train(PolicyRatio(), "implicit_ce", base, pool, cfg, progress=False) == out and len(loads) == 1

    flip_byte_near_end(weights)
    capsys.readouterr()
    assert train(PolicyRatio(), "implicit_ce", base, pool, cfg, progress=False) == out
    err = [ln for ln in capsys.readouterr().err.splitlines() if "warning" in ln]
    assert err == [f"warning: corrupt cache entry {weights} (checksum mismatch); removing it and training again"]
    assert len(loads) == 2  # retrained, not used
    assert weights.read_bytes() == pristine  # the same seeded training gives the same weights
    assert cache.check_dir(out)

    (out / cache.MANIFEST).unlink()  # a checkpoint from before manifests: used as it is, and given a manifest
    assert train(PolicyRatio(), "implicit_ce", base, pool, cfg, progress=False) == out and len(loads) == 2
    assert (out / cache.MANIFEST).is_file() and "warning" not in capsys.readouterr().err


@pytest.fixture(scope="module")
def smoke_world(tmp_path_factory):
    from tasks.arith.world import build_world
    from tasks.arith.world_config import world_config
    root = tmp_path_factory.mktemp("world-cache")
    cfg = world_config("smoke", 0, threads=1)
    with cache.using(root):
        build_world(cfg, log=lambda m: None)
    return cfg, root


def test_damaged_world_pool_is_reported_and_regenerated(smoke_world, capsys):
    from tasks.arith.world import build_world
    from tasks.arith.world_config import generator_path, pool_path, world_pool_paths
    cfg, root = smoke_world
    with cache.using(root):
        path = pool_path(cfg, "test", "mid")
        assert all(cache.checksum_path(p).is_file() for p in world_pool_paths(cfg))
        assert (generator_path(cfg, "mid") / cache.MANIFEST).is_file()
        pristine = path.read_bytes()
        chunk = root / "arith" / cfg.key() / "chunks" / "test-mid" / "000000.jsonl"
        assert cache.checksum_path(chunk).is_file()

        flip_digit(path, b'"reference"')
        capsys.readouterr()
        build_world(cfg, log=lambda m: None)  # rebuilt from its (intact) chunks
        assert capsys.readouterr().err.splitlines() == [
            f"warning: corrupt cache entry {path} (checksum mismatch); regenerating it"]
        assert path.read_bytes() == pristine

        flip_digit(path, b'"reference"')  # pool and its chunk damaged: the chunk is sampled again
        flip_digit(chunk, b'"reference"')
        build_world(cfg, log=lambda m: None)
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("warning")]
        assert err == [f"warning: corrupt cache entry {path} (checksum mismatch); regenerating it",
                       f"warning: corrupt cache entry {chunk} (checksum mismatch); sampling it again"]
        assert path.read_bytes() == pristine

        cache.checksum_path(path).unlink()  # a pool from before checksums: used, and given a sidecar
        build_world(cfg, log=lambda m: None)
        assert cache.checksum_path(path).is_file() and "warning" not in capsys.readouterr().err
        assert path.read_bytes() == pristine


def test_damaged_grading_cache_is_moved_aside_and_started_afresh(tmp_path, capsys):
    from harness.grading.verdict_cache import MISS, VerdictCache
    path = tmp_path / "verdicts.sqlite"
    store = VerdictCache(path)
    store.put_many("v1", [("eq", "1/2", "0.5", True, None)])
    assert store.get("v1", "eq", "1/2", "0.5", None) is True
    store.close()
    path.write_bytes(b"not a database at all" * 300)
    store = VerdictCache(path)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"warning: corrupt cache entry {path} (sqlite: file is not a database)")
    assert (tmp_path / "verdicts.sqlite.damaged").read_bytes().startswith(b"not a database")
    assert store.get("v1", "eq", "1/2", "0.5", None) is MISS  # empty, and usable
    store.put_many("v1", [("eq", "1/2", "0.5", True, None)])
    assert store.get("v1", "eq", "1/2", "0.5", None) is True
    store._db.execute("UPDATE calls SET value = 'tru' WHERE kind = 'eq'")  # a value that does not parse
    assert store.get("v1", "eq", "1/2", "0.5", None) is MISS
