"""Shared test setup: one CPU thread (the machine is shared), a temporary harness cache and user-level folders for
every test (the user's .cache/harness, Hugging Face and matplotlib caches are never written), tiny model folders
on demand."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from _paths import DATA

os.environ.setdefault("OMP_NUM_THREADS", "1")  # read by torch at import

# The user-level folders the harness and its libraries write, pointed at one temporary folder for the session. Set
# here, before any test module imports transformers, datasets or matplotlib (they read these at import), and in the
# environment, so the subprocesses the tests start (the CLI, torchrun, lm-eval, tox) inherit them.
_SESSION = Path(tempfile.mkdtemp(prefix="harness-tests-"))
USER_FOLDERS = {
    "HARNESS_CACHE": "harness-cache",   # the harness's own cache (default ./.cache/harness of the working folder)
    "HF_HOME": "hf",                     # Hugging Face hub, datasets (lm-eval's tasks), modules
    "HF_DATASETS_CACHE": "hf/datasets",
    "MPLCONFIGDIR": "matplotlib",        # matplotlib's config and font cache (the plots)
    "XDG_CACHE_HOME": "xdg-cache",       # anything else that keeps a cache under ~/.cache (torch kernels, triton)
    "XDG_CONFIG_HOME": "xdg-config",     # ~/.config: chromium's crash reports (the site's browser test)
}
for _var, _sub in USER_FOLDERS.items():
    os.environ[_var] = str(_SESSION / _sub)


def pytest_unconfigure(config):
    shutil.rmtree(_SESSION, ignore_errors=True)


@pytest.fixture(autouse=True)
def _one_thread():
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    yield


@pytest.fixture(autouse=True)
def _hermetic_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own empty harness cache ($HARNESS_CACHE, inherited by the subprocesses it starts), and
    a root set in-process (`--cache-dir` through harness.cli.main, cache.set_root) does not leak into the next."""
    from harness.core import cache
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path_factory.mktemp("harness-cache")))
    cache.set_root(None)
    yield
    cache.set_root(None)


@pytest.fixture
def cache_root(tmp_path):
    """Point the harness cache at a fresh folder for one test."""
    from harness.core import cache
    cache.set_root(tmp_path / "cache")
    yield tmp_path / "cache"
    cache.set_root(None)


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory):
    """Factory: a saved arith LlamaForCausalLM folder (safetensors + tokenizer) for a size and seed, built once."""
    made = {}

    def make(size: str = "nano", seed: int = 0):
        if (size, seed) not in made:
            import torch
            torch.set_num_threads(1)
            from reward_models.lm.loading import save_model
            from tasks.arith.model import make_model
            from tasks.arith.tokenizer import build_tokenizer
            tok = build_tokenizer()
            folder = tmp_path_factory.mktemp(f"lm-{size}-{seed}")
            save_model(make_model(tok, size, seed), tok, folder)
            made[size, seed] = folder
        return made[size, seed]
    return make


@pytest.fixture
def shared_data():
    """The real data sets (../shared/data beside the checkout, tests/_paths.DATA), or a skip that says where they
    were looked for."""
    if not DATA.is_dir():
        pytest.skip(f"real data folder {DATA} is absent (expected ../shared/data beside the checkout)")
    return DATA


@pytest.fixture
def processbench_dir(shared_data):
    """ProcessBench splits from the shared data, or a skip that says where they were looked for."""
    d = shared_data / "processbench"
    if not (d / "gsm8k.json").is_file():
        pytest.skip(f"ProcessBench data not found at {d} (../shared/data beside the checkout)")
    return d


@pytest.fixture(scope="session")
def smoke_world(tmp_path_factory):
    """(config, cache root, summary) of a smoke-scale arith world built once in its own cache (read-only for tests)."""
    from harness.core import cache
    from tasks.arith.world import build_world
    from tasks.arith.world_config import world_config
    root = tmp_path_factory.mktemp("smoke-world-cache")
    cfg = world_config("smoke", 0, threads=1)
    with cache.using(root):
        summary = build_world(cfg, log=lambda m: None)
    return cfg, root, summary


@pytest.fixture
def smoke_cache(smoke_world, tmp_path, monkeypatch):
    """A writable copy of the smoke world's cache, the current directory a fresh folder (a checkout's root)."""
    from harness.core import cache
    _, root, _ = smoke_world
    shutil.copytree(root, tmp_path / "cache")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    cache.set_root(tmp_path / "cache")
    yield tmp_path / "cache"
    cache.set_root(None)
