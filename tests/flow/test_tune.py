"""harness.flow.tune: where `run` finds the options `tune` chose."""

from __future__ import annotations

import json

from harness.flow import tune
from tasks import TASKS


def test_tuned_options_come_from_the_project_not_the_working_directory(tmp_path, monkeypatch):
    committed = tune.PROJECT_RESULTS / "tuning" / "arith-default-implicit_ce.options.json"
    monkeypatch.chdir(tmp_path)  # no results/ here: the lookup must not depend on where `run` starts
    opts, path = tune.tuned_options("arith", "default", "implicit_ce")
    assert path == committed and opts == json.loads(committed.read_text())
    # a --results folder without a tuning of its own falls back to the project's
    assert tune.tuned_options("arith", "default", "implicit_ce", str(tmp_path / "elsewhere"))[1] == committed


def test_a_results_folder_with_its_own_tuning_wins(tmp_path):
    ours = tmp_path / "results" / "tuning"
    ours.mkdir(parents=True)
    world = TASKS.get("arith").world_key("default")
    (ours / "arith-default-implicit_ce.json").write_text(json.dumps({"world": world}))
    (ours / "arith-default-implicit_ce.options.json").write_text('{"lr": "5e-4"}')
    opts, path = tune.tuned_options("arith", "default", "implicit_ce", str(tmp_path / "results"))
    assert path == ours / "arith-default-implicit_ce.options.json" and opts == {"lr": "5e-4"}
    # ... unless it was tuned on another world
    (ours / "arith-default-implicit_ce.json").write_text(json.dumps({"world": "another-world"}))
    assert tune.tuned_options("arith", "default", "implicit_ce", str(tmp_path / "results")) is None
