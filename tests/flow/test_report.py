"""The one run-file writer (write_run): the same .md and .json for every flow, the timings line JSON. A committed
step-level run file (written with a Python dict there) comes back line for line but its timings, which are JSON."""

from __future__ import annotations

import dataclasses
import json

from _paths import REPO

from harness.flow.config import RunConfig
from harness.flow.report import render_report, write_run
from harness.flow.reports import StepReport
from harness.flow.timings import LINE, Timings

RUNS = REPO / "results" / "runs"


def test_the_one_writer_gives_a_committed_step_level_md_back_but_its_timings_as_json(tmp_path, cache_root):
    d = json.loads((RUNS / "processbench-random-maxpersplit50.json").read_text(encoding="utf-8"))
    cfg = dataclasses.replace(RunConfig(**d["config"]), results=str(tmp_path))
    rep = StepReport(config=cfg, command=d["command"], rm=d["rm"], threshold=d["threshold"], tuned_on=d["tuned_on"],
                     splits=d["splits"], predictions=d["predictions"], steps=d.get("steps"), scorer=d["scorer"],
                     samples=d["samples"], left_out=d["left_out"], notes=d["notes"], timings=Timings.of(d["timings"]))
    written = write_run(rep)
    assert [p.name for p in written] == ["processbench-random-maxpersplit50.md",
                                        "processbench-random-maxpersplit50.json"] * 2
    old = (RUNS / "processbench-random-maxpersplit50.md").read_text(encoding="utf-8").splitlines()
    new = (tmp_path / "runs" / "processbench-random-maxpersplit50.md").read_text(encoding="utf-8").splitlines()
    assert new[:-1] == old[:-1] and old[-1].startswith(LINE + "{'prepare_s'")  # the old line: a Python dict
    assert json.loads(new[-1][len(LINE):]) == d["timings"]  # the new one: JSON, the same numbers
    assert render_report(rep, "json") == (tmp_path / "runs" / "processbench-random-maxpersplit50.json").read_text()
