"""Pools sampled from a data-backed task (harness.generation.pools, `harness generate --task ...`): each chunk of
problems draws from its own seed, so an interrupted run resumes to the bytes of one uninterrupted run, and two
processes under torchrun write the pool one process writes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from _paths import REPO

from harness.core import cache


def math500_file(path: Path, problems: int = 5) -> Path:
    import json
    path.write_text("".join(json.dumps({"unique_id": f"t/{i}", "problem": f"Compute {i} + {i + 3} * 2",
                                        "answer": str(3 * i + 6)}) + "\n" for i in range(problems)))
    return path


def generate_args(data: Path, model, out: Path) -> list[str]:
    # --samples, not --n: torchrun's own parser would take "--n" for an abbreviation of its --nnodes
    return ["generate", "--task", "math500", "--data", str(data), "--model", str(model), "--samples", "3",
            "--max-new-tokens", "12", "--chunk-problems", "2", "--threads", "1", "-o", str(out)]


def test_chunk_seeds():
    from harness.generation.pools import chunk_seed
    assert chunk_seed(7, 0) == 7  # a pool of one chunk is what the unchunked sampler wrote
    seeds = {chunk_seed(s, a) for s in (0, 1) for a in (2, 4, 6)}
    assert len(seeds) == 6 and all(0 <= x < 2 ** 63 for x in seeds)


def test_interrupted_generation_resumes_identical(tiny_lm_dir, tmp_path, monkeypatch, capsys):
    from harness.cli import main
    from harness.generation import sampling
    model, data = tiny_lm_dir("nano", 1), math500_file(tmp_path / "MATH500.jsonl")
    with cache.using(tmp_path / "once"):
        assert main(generate_args(data, model, tmp_path / "once.jsonl")) == 0
    calls, original = [], sampling.sample_responses

    def dies_at_second(*a, **k):
        calls.append(len(a[2]))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(*a, **k)
    monkeypatch.setattr(sampling, "sample_responses", dies_at_second)
    out = tmp_path / "resumed.jsonl"
    try:
        assert main(["--cache-dir", str(tmp_path / "c")] + generate_args(data, model, out)) == 130
        assert not out.exists() and len(list((tmp_path / "c" / "generate").glob("*/*.json"))) == 1
        assert main(["--cache-dir", str(tmp_path / "c")] + generate_args(data, model, out)) == 0
    finally:
        cache.set_root(None)
    assert calls == [2, 2, 2, 1]  # chunk 0, (interrupted), then chunks 1 and 2 only
    assert "resuming, 1 of 3 chunks already done" in capsys.readouterr().err
    assert out.read_bytes() == (tmp_path / "once.jsonl").read_bytes()
    assert list((tmp_path / "c" / "generate").glob("*/*")) == []  # finished: the chunks are gone


def _two_process_generate(launcher: list[str], tiny_lm_dir, tmp_path):
    from harness.cli import main
    model, data = tiny_lm_dir("nano", 1), math500_file(tmp_path / "MATH500.jsonl")
    with cache.using(tmp_path / "one"):
        assert main(generate_args(data, model, tmp_path / "one.jsonl")) == 0
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(launcher + ["-m", "harness", "--cache-dir", str(tmp_path / "two")]
                          + generate_args(data, model, tmp_path / "two.jsonl"),
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines() == [f"wrote {tmp_path / 'two.jsonl'}: 5 problems x 3 responses"]
    assert "3 chunks sampled by 2 processes (rank 0: 2, rank 1: 1)" in proc.stderr
    assert "[rank 1]" not in proc.stderr
    assert (tmp_path / "two.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes()  # byte for byte


@pytest.mark.slow
def test_torchrun_two_process_generation_equals_one_process(tiny_lm_dir, tmp_path):
    _two_process_generate([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"],
                          tiny_lm_dir, tmp_path)
