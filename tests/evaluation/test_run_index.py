"""`harness leaderboard` with no --pool: the runs recorded in the cache; `run` writes there, not into results/."""

from __future__ import annotations

import json

import pytest

from harness.cli import main


def test_leaderboard_with_no_pool_lists_the_rows_of_a_run_and_results_stay_untouched(smoke_cache, tmp_path, capsys):
    assert main(["run", "--rm", "random", "--scale", "smoke", "--threads", "1", "--n", "1,2,4", "--format",
                 "json"]) == 0
    ran = json.loads(capsys.readouterr().out)
    assert not (tmp_path / "work" / "results").exists()  # the checkout's results/ is for `tables` and --results
    assert sorted(p.name for p in (smoke_cache / "runs").iterdir()) == ["arith-smoke-random.json",
                                                                        "arith-smoke-random.md"]

    assert main(["leaderboard", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out)["rows"]
    assert [{k: v for k, v in r.items() if k not in ("run", "world")} for r in listed] == ran["rows"]
    assert {r["run"] for r in listed} == {"random"}

    assert main(["leaderboard", "--format", "json", "--generator", "mid", "--task", "arith", "--rm", "random"]) == 0
    mid = json.loads(capsys.readouterr().out)["rows"]
    assert mid == [r for r in listed if r["generator"] == "mid"] and mid
    assert main(["leaderboard", "--format", "json", "--rm", "implicit_ce"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["rows"] == [] and "no recorded run matches" in captured.err

    assert main(["leaderboard", "--format", "csv", "--n", "4", "--methods", "best_of_n"]) == 0
    csv_lines = capsys.readouterr().out.splitlines()
    assert csv_lines[0].endswith(",run,world") and len(csv_lines) == 1 + 3  # one best-of-4 row a generator
    assert main(["leaderboard"]) == 0
    assert "run random" in capsys.readouterr().out


def test_run_with_results_writes_there_too(smoke_cache, tmp_path, capsys):
    out = tmp_path / "mine"
    assert main(["run", "--rm", "random", "--scale", "smoke", "--threads", "1", "--n", "1,2", "--generators", "mid",
                 "--results", str(out), "--label", "rand-mid"]) == 0
    capsys.readouterr()
    a = (out / "runs" / "arith-smoke-rand-mid.json").read_bytes()
    assert a == (smoke_cache / "runs" / "arith-smoke-rand-mid.json").read_bytes()
    assert main(["leaderboard", "--format", "json", "--rm", "rand-mid"]) == 0
    assert {r["run"] for r in json.loads(capsys.readouterr().out)["rows"]} == {"rand-mid"}


def test_leaderboard_listing_refuses_pool_only_options_and_broken_run_files(smoke_cache, capsys):
    assert main(["leaderboard", "--distinct"]) == 2
    assert "--distinct" in capsys.readouterr().err
    (smoke_cache / "runs").mkdir(exist_ok=True)
    (smoke_cache / "runs" / "arith-smoke-x.json").write_text("{not json")
    assert main(["leaderboard"]) == 2
    err = capsys.readouterr().err
    assert "arith-smoke-x.json" in err and "cannot read run file" in err


def test_a_default_scale_run_in_a_checkout_leaves_its_results_alone(tmp_path, monkeypatch, capsys):
    """The shipped world at the default scale: the run used to rewrite results/runs/ of the checkout it ran in."""
    from harness.core import cache
    (tmp_path / "checkout" / "results" / "runs").mkdir(parents=True)
    committed = tmp_path / "checkout" / "results" / "runs" / "arith-default-random.json"
    committed.write_text('{"committed": true}\n')
    monkeypatch.chdir(tmp_path / "checkout")
    cache.set_root(tmp_path / "cache")
    try:
        assert main(["run", "--rm", "random", "--generators", "mid", "--n", "1,2", "--threads", "1"]) == 0
    finally:
        cache.set_root(None)
    assert committed.read_text() == '{"committed": true}\n'
    assert sorted(p.name for p in (tmp_path / "checkout" / "results" / "runs").iterdir()) == [committed.name]
    assert (tmp_path / "cache" / "runs" / "arith-default-random.json").is_file()
    assert "random" in capsys.readouterr().out


def _row(task, generator, method="best_of_n", rm="x"):
    return {"task": task, "generator": generator, "rm": rm, "method": method, "aggregation": "min", "n": 4,
            "accuracy": 0.5, "ci_low": 0.4, "ci_high": 0.6, "problems": 12}


def test_listing_filters_by_what_each_run_recorded(tmp_path, capsys):
    """A run started with --task arith on synthetic pools records task "unknown" in its rows (tests used to leave such
    files in the user's cache): `--task arith` leaves those rows out, `--task unknown` finds them; --generator reads
    the rows, --rm the run's reward model or label."""
    from harness.core import cache
    runs = tmp_path / "runs"
    runs.mkdir()
    for stem, cfg, rows in [
        ("arith-default-orm", {"rm": "orm", "task": "arith", "label": None},
         [_row("arith", "mid"), _row("arith", "weak")]),
        ("arith-default-implicit_ce-r1", {"rm": "implicit_ce", "task": "arith", "label": "implicit_ce-r1"},
         [_row("unknown", "mid"), _row("unknown", "weak")]),
    ]:
        (runs / f"{stem}.json").write_text(json.dumps({"config": cfg, "rows": rows}))
    cache.set_root(tmp_path)

    def listed(*flags):
        assert main(["leaderboard", "--format", "json", *flags]) == 0
        return sorted((r["run"], r["task"], r["generator"]) for r in json.loads(capsys.readouterr().out)["rows"])
    assert listed("--task", "arith") == [("orm", "arith", "mid"), ("orm", "arith", "weak")]
    assert listed("--task", "unknown") == [("implicit_ce-r1", "unknown", "mid"), ("implicit_ce-r1", "unknown", "weak")]
    assert listed("--task", "arith", "--generator", "weak") == [("orm", "arith", "weak")]
    assert listed("--rm", "implicit_ce", "--generator", "mid") == [("implicit_ce-r1", "unknown", "mid")]
    assert len(listed()) == 4
