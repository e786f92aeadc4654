"""Progress output: a bar on a terminal, a few plain lines in a pipe or a file (a CI log stays readable)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys

import pytest
from _paths import REPO as REPO_ROOT

from harness.core import progress

REPO = REPO_ROOT


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _auto(monkeypatch):
    monkeypatch.delenv("HARNESS_PROGRESS", raising=False)
    monkeypatch.delenv("HARNESS_PROGRESS_INTERVAL", raising=False)


def test_off_a_terminal_a_stage_writes_one_line_and_an_inner_bar_none():
    out = io.StringIO()
    with progress.bar(10_000, "train implicit_ce", "step", stream=out) as bar:
        for _ in range(10_000):
            bar.update(1)
            bar.set_postfix(loss="0.6931")
    with progress.bar(32, "reference log-probs", "seq", inner=True, stream=out) as inner:
        inner.update(32)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and "\r" not in out.getvalue() and "\x1b" not in out.getvalue()
    assert lines[0].startswith("[train implicit_ce] 10000/10000 step done (") and "loss=0.6931" in lines[0]


def test_a_long_stage_writes_a_line_per_interval(monkeypatch):
    monkeypatch.setenv("HARNESS_PROGRESS_INTERVAL", "0")
    out = io.StringIO()
    bar = progress.bar(3, "sample", "problem", stream=out)
    for _ in range(3):
        bar.update(1)
    bar.close()
    bar.close()  # closing twice writes the final line once
    assert out.getvalue().splitlines() == [ln for ln in out.getvalue().splitlines() if ln.startswith("[sample] ")]
    assert [ln.split(" (")[0] for ln in out.getvalue().splitlines()] == [
        "[sample] 1/3 problem", "[sample] 2/3 problem", "[sample] 3/3 problem", "[sample] 3/3 problem done"]


def test_a_terminal_gets_tqdm_and_the_environment_overrides(monkeypatch):
    from tqdm import tqdm
    b = progress.bar(5, "x", stream=FakeTTY())
    assert isinstance(b, tqdm)
    b.close()
    monkeypatch.setenv("HARNESS_PROGRESS", "off")
    out = FakeTTY()
    with progress.bar(5, "x", stream=out) as b:
        b.update(5)
    assert out.getvalue() == ""
    monkeypatch.setenv("HARNESS_PROGRESS", "plain")
    assert isinstance(progress.bar(5, "x", stream=FakeTTY()), progress.Plain)
    assert isinstance(progress.bar(5, "x", stream=io.StringIO(), enabled=False), progress.Silent)


def test_a_run_logged_to_a_pipe_stays_a_few_lines_per_stage(smoke_world, tmp_path):
    """`run` with stderr to a pipe (as in CI): no carriage returns or cursor moves, a few lines per stage."""
    cfg, root, _ = smoke_world
    cache = tmp_path / "cache"
    shutil.copytree(root, cache)
    env = {**os.environ, "HARNESS_CACHE": str(cache), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO),
           "HARNESS_CHUNK_PROBLEMS": "4"}  # 3 chunks a pool: the scoring stage has a bar
    env.pop("HARNESS_PROGRESS", None)
    proc = subprocess.run([sys.executable, "-m", "harness", "run", "--rm", "loglik", "--scale", "smoke",
                           "--threads", "1", "--n", "1,4"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    log = proc.stderr
    assert "\r" not in log and "\x1b[" not in log
    lines = log.splitlines()
    stages = [ln for ln in lines if ln.startswith("[")]
    done = [ln for ln in lines if ln.startswith("[score loglik] 3/3 chunk done")]
    assert len(done) == 3, log  # each pool's scoring stage says once that it finished
    assert len(lines) <= 12, log  # run config, world, two lines a pool: not one line per update
    assert len(stages) >= 3
