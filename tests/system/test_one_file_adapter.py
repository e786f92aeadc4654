"""Adding a reward model is one new file: a toy adapter written into a copy of the project is a `--rm` choice that
runs, a name in `list`, a tox env and a main experiment of the recipes, with no other file edited."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _paths import REPO as ROOT

TOY = '''"""Toy: a step's score is its length times `scale` (a test adapter, one file)."""

from dataclasses import dataclass, field

from reward_models import register_rm
from reward_models.base import RewardModel


@dataclass
class ToyConfig:
    scale: float = field(default=1.0, metadata={"help": "multiplies each step's length"})


@register_rm("toy_len")
class ToyLen(RewardModel):
    name = "toy_len"
    Config = ToyConfig
    paper_row = 99

    def scoring_identity(self):
        return {"scale": self.config.scale}

    def compute_scores(self, pool):
        from harness.core.steps import split_steps
        return [[[self.config.scale * len(s) for s in split_steps(r.text)] for r in p.responses]
                for p in pool.problems], {}
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the project's packages and tox files with the toy adapter added to reward_models/."""
    dst = tmp_path_factory.mktemp("project")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for pkg in ("harness", "tasks", "reward_models"):
        shutil.copytree(ROOT / pkg, dst / pkg, ignore=ignore)
    for f in ("toxfile.py", "tox.ini", "pyproject.toml"):
        shutil.copy(ROOT / f, dst / f)
    (dst / "reward_models" / "toy_len.py").write_text(TOY)
    return dst


def _run(project: Path, *argv: str, cache: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(project), "HARNESS_CACHE": str(cache)}
    return subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True, timeout=300)


def test_a_toy_adapter_file_joins_rm_list_tox_and_recipes(project, tmp_path):
    from harness.core.pool import Pool, Problem, Response, save_pool
    pool = tmp_path / "pool.jsonl"
    save_pool(Pool([Problem(f"p{i}", "1+1?", "2", [Response("step one\n\nso 2", "2", True),
                                                   Response("x\n\ny", "3", False)]) for i in range(3)]), pool)
    cache = tmp_path / "cache"

    listed = _run(project, sys.executable, "-m", "harness", "list", cache=cache)
    assert listed.returncode == 0, listed.stderr
    assert "toy_len" in listed.stdout
    about = _run(project, sys.executable, "-m", "harness", "list", "--rm", "toy_len", cache=cache).stdout
    assert "paper row 99" in about and "multiplies each step's length" in about  # its options, from its Config

    ran = _run(project, sys.executable, "-m", "harness", "run", "--rm", "toy_len", "--pool", str(pool),
               "--set", "scale=2", "--n", "1,2", "--format", "json", cache=cache)
    assert ran.returncode == 0, ran.stderr
    rows = json.loads(ran.stdout)["rows"]
    # the longer (correct) response always wins: best-of-2 is right on every problem, pass@1 is half
    best = {r["n"]: r["accuracy"] for r in rows if r["rm"] == "toy_len" and r["method"] == "best_of_n"}
    assert best == {1: 0.5, 2: 1.0}
    bad = _run(project, sys.executable, "-m", "harness", "run", "--rm", "toy_len", "--pool", str(pool),
               "--set", "scale=big", cache=cache)
    assert bad.returncode == 2 and "scale" in bad.stderr  # its options dataclass types --set

    code = ("from harness.paper.recipes import main_experiments, tox_envs; "
            "print([e.label for e in main_experiments()][-1], 'toy_len' in tox_envs())")
    recipes = _run(project, sys.executable, "-c", code, cache=cache)
    assert recipes.stdout.split() == ["toy_len", "True"], recipes.stderr

    tox = _run(project, sys.executable, "-m", "tox", "l", cache=cache)
    assert tox.returncode == 0, tox.stderr
    assert any(line.split()[:1] == ["toy_len"] for line in tox.stdout.splitlines()), tox.stdout


def test_the_checkout_itself_has_no_toy():
    from harness.paper.recipes import main_experiments
    from reward_models import REWARD_MODELS
    assert "toy_len" not in REWARD_MODELS.names()
    assert [e.label for e in main_experiments()][:4] == ["implicit_dpo", "implicit_kto", "implicit_nca",
                                                         "implicit_ce"]
