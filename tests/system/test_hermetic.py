"""The tests leave the user's folders alone: every test has its own harness cache and user-level caches (conftest),
and a CLI subprocess a test starts inherits them, so the checkout's default cache (.cache/harness) is not touched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from _paths import REPO
from _smoke_pool import smoke_pool_file


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file under `folder` (none when it does not exist)."""
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


def test_user_level_folders_point_at_temporary_ones():
    from harness.core import cache
    from conftest import USER_FOLDERS
    tmp = Path(os.environ["HARNESS_CACHE"]).resolve()
    assert cache.root().resolve() == tmp and not tmp.is_relative_to(REPO)
    for var in USER_FOLDERS:
        assert not Path(os.environ[var]).resolve().is_relative_to(Path.home()), var
        assert not Path(os.environ[var]).resolve().is_relative_to(REPO), var


def test_a_cli_run_in_the_checkout_writes_its_tests_cache_not_the_default_one(tmp_path):
    """`python -m harness run` started by a test in the checkout's root (where the default cache would be
    .cache/harness) writes its score set and run files to the test's cache and nothing under the default one."""
    default = REPO / ".cache" / "harness"
    before = _snapshot(default)
    pool = smoke_pool_file(tmp_path / "pool.jsonl", problems=4, responses=4)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "harness", "run", "--rm", "text_hash", "--pool", str(pool), "--n",
                           "1,2", "--label", "hermetic-check"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    mine = Path(os.environ["HARNESS_CACHE"])
    assert sorted(p.name for p in (mine / "runs").iterdir()) == ["arith-default-hermetic-check.json",
                                                                  "arith-default-hermetic-check.md"]
    assert list(mine.glob("scores/*/*.json"))  # the score set went to the test's cache too
    assert _snapshot(default) == before


def test_toxs_test_env_uses_a_temporary_cache_and_the_adapter_envs_the_shared_one(tmp_path):
    pytest.importorskip("tox")
    proc = subprocess.run([sys.executable, "-m", "tox", "config", "--workdir", str(tmp_path), "-e", "py,implicit_ce",
                           "-k", "set_env"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    caches = {}
    for line in proc.stdout.splitlines():
        if line.startswith("[testenv:"):
            env = line.strip("[]").split(":", 1)[1]
        elif line.strip().startswith("HARNESS_CACHE="):
            caches[env] = Path(line.strip().split("=", 1)[1])
    assert caches["implicit_ce"] == REPO / ".cache" / "harness"
    assert caches["py"].is_relative_to(tmp_path)  # the env's tmp folder, which tox empties at every start
