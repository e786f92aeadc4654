"""The typed reports convert to exactly the JSON object their run files hold (same keys, same order, same values)
and write it as the committed files have it: rebuilt from committed run files of each flow, they give those files
back."""

from __future__ import annotations

import json

import pytest
from _paths import REPO

from harness.flow.config import RunConfig, SearchOptions
from harness.flow.reports import FoldsReport, SearchReport, SelectionReport, StepReport
from harness.flow.timings import Timings

RUNS = REPO / "results" / "runs"


def _read(name: str) -> tuple[dict, str]:
    text = (RUNS / name).read_text(encoding="utf-8")
    return json.loads(text), text


def _config(d: dict) -> RunConfig:
    return RunConfig(**d)


def _selection(d: dict, cls=SelectionReport, **kw):
    return cls(config=_config(d["config"]), command=d["command"], results=[], rows=d["rows"], auc=d["auc"],
               per_problem=d.get("per_problem"), steps=d.get("steps"), compute=d["compute"], process=d.get("process"),
               world=d.get("world"), timings=Timings.of(d["timings"]), **kw)


POOL_RUNS = sorted(p.name for p in RUNS.glob("arith-default-*.json")
                   if "protocol" in json.loads(p.read_text(encoding="utf-8"))["config"])


@pytest.mark.parametrize("name", POOL_RUNS[:6])
def test_a_pools_report_gives_its_committed_file_back(name):
    d, text = _read(name)
    rep = _selection(d)
    assert list(rep.to_dict()) == list(d) and rep.to_dict() == d
    assert rep.json_text() == text  # per_problem's vectors one a line, as written
    assert rep["rows"] == d["rows"] and "written" in rep and rep.get("nothing") is None  # the mapping view


def test_a_folds_report_keeps_its_sorted_keys_and_per_problem_last():
    d, text = _read("gsm8k-gpt3-loglik-maxproblems60.json")  # written before configs had `protocol`
    rep = _selection(d, FoldsReport, folds=d["folds"], halves=d["halves"], base=d["base"])
    out = rep.to_dict()
    assert out["config"].pop("protocol") == "harness"
    assert list(out) == list(d) and out == d and list(out["config"]) == sorted(out["config"])
    assert rep.json_text().replace('  "pools": [],\n  "protocol": "harness",\n', '  "pools": [],\n') == text
    with_pp = FoldsReport.extend(rep, per_problem={"ns": [1], "generators": {"gpt3": {"best_of_n@1": [1, 0]}}})
    assert list(with_pp.to_dict())[-1] == "per_problem" and with_pp.json_text().rstrip().endswith("}\n}")


def test_a_step_report_gives_its_committed_file_back():
    d, text = _read("processbench-random-maxpersplit50.json")
    cfg = _config(d["config"])
    rep = StepReport(config=cfg, command=d["command"], rm=d["rm"], threshold=d["threshold"], tuned_on=d["tuned_on"],
                     splits=d["splits"], predictions=d["predictions"], steps=d.get("steps"), scorer=d["scorer"],
                     samples=d["samples"], left_out=d["left_out"], notes=d["notes"], timings=Timings.of(d["timings"]))
    out = rep.to_dict()
    assert out["config"].pop("protocol") == "harness"  # the committed file predates the option
    assert list(out) == list(d) and out == d
    assert rep.render("json").replace('  "rebuild": false,\n  "protocol": "harness"\n', '  "rebuild": false\n') == text


def test_a_search_report_gives_its_committed_fields_back():
    d, _ = _read("search-implicit_ce-beam-dvts.json")  # written before search files began with "kind"
    rep = SearchReport(config=_config(d["config"]), command=d["command"], search=SearchOptions(**d["search"]),
                       world=d["world"], rm=d["rm"], temperature=d["temperature"],
                       max_new_tokens=d["max_new_tokens"], generators=d["generators"],
                       timings=Timings.of(d["timings"]), guide=d["guide"], rm_params=d["rm_params"])
    out = rep.to_dict()
    assert out.pop("kind") == "search" and out["config"].pop("protocol") == "harness"
    assert list(out) == list(d) and out == d

