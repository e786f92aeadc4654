"""Timings: one type recorded the same way by every flow (stage name -> seconds in the order the stages ran, rounded
to 0.1 s, total_s last), written as JSON; the run files written before with a Python dict there still read."""

from __future__ import annotations

import json

import pytest
from _paths import REPO

from harness.flow import timings as tm
from harness.flow.timings import LINE, Stopwatch, Timings, read_timings

RUNS = REPO / "results" / "runs"


def test_the_stopwatch_times_stages_in_order_adds_repeats_and_rounds(monkeypatch):
    now = iter([100.0, 100.0, 102.34, 102.34, 102.5, 110.0, 110.11, 111.0])
    monkeypatch.setattr(tm.time, "time", lambda: next(now))
    clock = Stopwatch()                      # 100.0
    with clock.stage("train"):               # 100.0 -> 102.34
        pass
    clock.add("search", 0.0)
    with clock.stage("score"):               # 102.34 -> 102.5
        pass
    with clock.stage("score"):               # 110.0 -> 110.11: added to the first pass
        pass
    got = clock.timings()                    # total at 111.0
    assert got.to_dict() == {"train_s": 2.3, "search_s": 0.0, "score_s": 0.3, "total_s": 11.0}
    assert list(got.to_dict()) == ["train_s", "search_s", "score_s", "total_s"]
    assert got.line() == LINE + '{"train_s": 2.3, "search_s": 0.0, "score_s": 0.3, "total_s": 11.0}'


def test_json_and_the_old_dict_repr_read_the_same():
    t = Timings.of({"base_s": 0.5, "train_A_s": 12.0, "total_s": 99.9})
    assert Timings.parse(t.to_json()) == t
    assert Timings.parse(str(t.to_dict())) == t  # "{'base_s': 0.5, ...}": what folds and steps wrote before
    assert Timings.parse(t.line()) == t
    with pytest.raises(ValueError):
        Timings.parse("__import__('os').getcwd()")  # literals only: nothing is evaluated


def test_every_committed_run_file_s_timings_line_reads_as_its_json_records():
    mds = sorted(RUNS.glob("*.md"))
    assert mds, "results/runs has run files"
    formats = set()
    for md in mds:
        text = md.read_text(encoding="utf-8")
        got = read_timings(text)
        assert got is not None, md.name
        line = next(ln for ln in text.splitlines() if ln.startswith(LINE))
        formats.add("json" if line[len(LINE):].startswith('{"') else "repr")
        beside = md.with_suffix(".json")
        if beside.is_file():
            assert got.to_dict() == json.loads(beside.read_text(encoding="utf-8"))["timings"], md.name
    assert "repr" in formats and "json" in formats  # both kinds are committed: the old one keeps reading
