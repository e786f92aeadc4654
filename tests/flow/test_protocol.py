"""`--protocol paper` end to end: the reward-model settings it chooses, and run files / leaderboard rows that say
which protocol made them, so the two protocols' numbers never mix."""

from __future__ import annotations

import json

from _smoke_pool import smoke_pool_file

from harness.cli import main
from harness.flow import protocol


def test_the_authors_settings_per_reward_model_and_flow():
    assert protocol.rm_options("implicit_ce", {}) == {"score_beta": "0.001"}
    assert protocol.rm_options("eurus_prm", {}) == {"score_beta": "0.001", "steps": "publisher", "dtype": "bfloat16"}
    assert protocol.rm_options("implicitprm_release", {"dtype": "float32"})["dtype"] == "float32"  # the user wins
    assert protocol.rm_options("eurus_prm", {}, step_level=True) == {"recipe": "eval", "reward": "accumulative"}
    assert protocol.rm_options("random", {}) == {}
    assert protocol.weights("implicit_dpo", None) == "sigmoid" and protocol.weights("qwen_prm", None) == "raw"
    assert protocol.weights("qwen_prm", "sigmoid") == "sigmoid"


def test_a_paper_run_has_its_own_files_and_rows(tmp_path, capsys, monkeypatch):
    from harness.core import cache
    monkeypatch.setattr(cache, "_ROOT", None)
    pool = smoke_pool_file(tmp_path / "pool.jsonl")
    cdir = str(tmp_path / "cache")
    assert main(["--cache-dir", cdir, "grade", str(pool), "--workers", "1"]) == 0
    for extra in ([], ["--protocol", "paper"]):
        assert main(["--cache-dir", cdir, "run", "--rm", "random", "--pool", str(pool), "--n", "1,4,8", *extra]) == 0
    runs = sorted(p.name for p in (tmp_path / "cache" / "runs").glob("*.json"))
    assert len(runs) == 2 and sum(r.endswith("-paper.json") for r in runs) == 1
    paper = json.loads(next((tmp_path / "cache" / "runs").glob("*-paper.json")).read_text())
    assert paper["config"]["protocol"] == "paper" and paper["config"]["subsets"] == "prefix"
    assert "--protocol paper" in paper["command"] and all(r["protocol"] == "paper" for r in paper["rows"])
    capsys.readouterr()
    assert main(["--cache-dir", cdir, "leaderboard", "--protocol", "paper", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert rows and all(r.get("protocol") == "paper" for r in rows)
    assert main(["--cache-dir", cdir, "leaderboard", "--protocol", "harness", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert rows and not any("protocol" in r for r in rows)
    assert main(["--cache-dir", cdir, "leaderboard"]) == 0
    assert "[paper protocol]" in capsys.readouterr().out
