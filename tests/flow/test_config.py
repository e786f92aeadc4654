"""The run config is frozen, records every field but the search options, and a search config names its own
command; every field carries its help."""

from __future__ import annotations

import dataclasses

import pytest

from harness.flow.config import RunConfig, SearchOptions


def test_the_config_is_frozen_and_records_every_field_but_the_search_options():
    cfg = RunConfig(rm="implicit_ce", search=SearchOptions())
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.subsets = "prefix"
    assert cfg.aggregation == "min"  # the publisher's default, set once at construction
    names = [f.name for f in dataclasses.fields(RunConfig)]
    assert list(cfg.to_dict()) == [n for n in names if n != "search"] and names[-1] == "search"
    assert cfg.to_dict() == RunConfig(rm="implicit_ce").to_dict()
    for cls in (RunConfig, SearchOptions):
        assert all(f.metadata.get("help") for f in dataclasses.fields(cls)), cls.__name__


def test_a_search_config_names_the_search_command():
    opts = SearchOptions(methods=["beam", "dvts"], ns=[2, 4], expand=2, max_problems=3, seed=1)
    cfg = RunConfig(rm="implicit_ce", generators=["weak"], rm_options={"ref": "m", "model": "s"}, search=opts)
    assert cfg.command() == ("python -m harness search --rm implicit_ce --method beam,dvts --n 2,4 --expand 2 "
                             "--problems 3 --search-seed 1 --generators weak --set model=s --set ref=m")
    assert RunConfig(rm="implicit_ce", search=SearchOptions()).command() == (
        "python -m harness search --rm implicit_ce --method beam --n 4,16,64")  # the defaults are the command's
    assert "--problems None" not in RunConfig(rm="implicit_ce", search=SearchOptions(max_problems=None)).command()
    assert RunConfig(rm="implicit_ce").command() == "python -m harness run --rm implicit_ce"
