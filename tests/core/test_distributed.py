"""Scoring across processes: `torchrun --nproc_per_node 2 -m harness score ...` (gloo on CPU) gives the same score
file, byte for byte, as one process; the launcher's environment is read strictly; non-zero ranks print only errors."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from _paths import REPO as REPO_ROOT
from _smoke_pool import smoke_pool, smoke_pool_file

from harness.core import cache
from harness.core.distributed import World, _ErrorsOnly, env_world
from harness.core.errors import InputError
from reward_models import get_rm

REPO = REPO_ROOT


def test_world_from_launcher_environment():
    assert env_world({}) == World(0, 1, 0)
    assert env_world({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == World(3, 4, 1)
    assert env_world({"RANK": "1", "WORLD_SIZE": "2"}).local_rank == 1
    for bad, field in (({"RANK": "x", "WORLD_SIZE": "2"}, "RANK"), ({"RANK": "2", "WORLD_SIZE": "2"},
                       "RANK/WORLD_SIZE"),
                       ({"WORLD_SIZE": "0"}, "RANK/WORLD_SIZE")):
        with pytest.raises(InputError) as e:
            env_world(bad)
        assert e.value.field == field


def test_shards_cover_every_item_once():
    items = list(range(11))
    shards = [World(r, 3).mine(items) for r in range(3)]
    assert shards == [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8]]
    assert World().mine(items) == items and World().is_main and not World().active


def test_non_zero_ranks_pass_only_errors():
    real = io.StringIO()
    err = _ErrorsOnly(real, 1)
    err.write("Loading weights: 10%\rLoading weights: 100%\r\n[score] progress\n")
    err.write("error: bad thing\nTraceback (most recent call last):\n  File x\nValueError: y\n")
    assert real.getvalue() == ("[rank 1] error: bad thing\n[rank 1] Traceback (most recent call last):\n"
                               "[rank 1]   File x\n[rank 1] ValueError: y\n")


def test_torchrun_two_processes_equal_one_process(tiny_lm_dir, tmp_path, monkeypatch):
    policy, ref = str(tiny_lm_dir("nano", 1)), str(tiny_lm_dir("nano", 0))
    pool_file = smoke_pool_file(tmp_path / "pool.jsonl")
    monkeypatch.setenv("HARNESS_CHUNK_PROBLEMS", "2")  # 6 chunks: 3 for each rank
    with cache.using(tmp_path / "one"):
        rm = get_rm("implicit_ce", model=policy, ref=ref, progress=False)
        single = rm.score_path(smoke_pool())
        rm.score(smoke_pool())

    env = dict(os.environ, OMP_NUM_THREADS="1", HARNESS_CHUNK_PROBLEMS="2")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "harness", "--cache-dir", str(tmp_path / "two"), "score", "--rm", "implicit_ce",
                           "--pool", str(pool_file), "--model", policy, "--ref", ref, "--set", "progress=false",
                           "--threads", "1"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines() == [f"{pool_file}: 96 responses scored -> "
                                        f"{tmp_path / 'two' / 'scores' / smoke_pool().content_hash()}"]
    assert "6 chunks computed by 2 processes (rank 0: 3, rank 1: 3)" in proc.stderr
    assert "[rank 1]" not in proc.stderr  # rank 1 printed nothing: no errors
    merged = tmp_path / "two" / single.relative_to(tmp_path / "one")
    assert merged.read_bytes() == single.read_bytes()  # identical to one process, bit for bit
    assert not merged.with_suffix(".chunks").exists()


def accelerate_launcher() -> list[str]:
    # `--cpu` would start one process (accelerate's simple launcher); `--multi_gpu` goes through torch.distributed.run,
    # which on a machine without CUDA means gloo on CPU here (harness.core.distributed.init)
    return [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
            "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]


@pytest.mark.slow
def test_accelerate_launch_two_processes_score_like_one(tiny_lm_dir, tmp_path, monkeypatch):
    pytest.importorskip("accelerate")
    policy, ref = str(tiny_lm_dir("nano", 1)), str(tiny_lm_dir("nano", 0))
    pool_file = smoke_pool_file(tmp_path / "pool.jsonl")
    monkeypatch.setenv("HARNESS_CHUNK_PROBLEMS", "4")  # 3 chunks
    with cache.using(tmp_path / "one"):
        rm = get_rm("implicit_ce", model=policy, ref=ref, progress=False)
        single = rm.score_path(smoke_pool())
        rm.score(smoke_pool())
    env = dict(os.environ, OMP_NUM_THREADS="1", HARNESS_CHUNK_PROBLEMS="4")
    proc = subprocess.run(accelerate_launcher() + ["-m", "harness", "--cache-dir", str(tmp_path / "two"), "score",
                                                   "--rm", "implicit_ce", "--pool", str(pool_file), "--model", policy,
                                                   "--ref", ref, "--set", "progress=false", "--threads", "1"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "3 chunks computed by 2 processes (rank 0: 2, rank 1: 1)" in proc.stderr
    merged = tmp_path / "two" / single.relative_to(tmp_path / "one")
    assert merged.read_bytes() == single.read_bytes()


@pytest.mark.slow
def test_torchrun_world_build_equals_one_process(tmp_path):
    """`generate` of the arith world under torchrun: rank 0 trains, the ranks share the sampling (at smoke scale each
    pool is one chunk of 50 problems, so this checks the protocol, not the speed-up), the pools are the same bytes."""
    from tasks.arith.world import build_world
    from tasks.arith.world_config import world_config, world_pool_paths
    cfg = world_config("smoke", 0, threads=1)
    with cache.using(tmp_path / "one"):
        build_world(cfg, log=lambda m: None)
        one = [p.read_bytes() for p in world_pool_paths(cfg)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "harness", "--cache-dir", str(tmp_path / "two"), "generate", "--scale", "smoke",
                           "--threads", "1"], cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "[generate] test-mid: 1 chunks sampled by 2 processes (rank 0: 1, rank 1: 0)" in proc.stderr
    assert f" built in the cache (config {cfg.key()}, built in" in proc.stdout  # rank 0's table, after its logs
    with cache.using(tmp_path / "two"):
        assert [p.read_bytes() for p in world_pool_paths(cfg)] == one
