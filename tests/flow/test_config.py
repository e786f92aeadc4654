"""The run config is frozen, records every field but the search options, and a search config names its own
command; every field carries its help; the reward model's options are typed once a run."""

from __future__ import annotations

import dataclasses

import pytest

from harness.flow import run as run_mod
from harness.flow.config import RunConfig, SearchOptions
from harness.flow.prepare import prepare_rm
from reward_models import REWARD_MODELS
from reward_models.implicit import ImplicitPRM
from tasks.base import TaskInputs


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


def test_reward_model_options_are_typed_once_and_each_adapter_gets_its_own_copy(monkeypatch):
    typed = []
    original = ImplicitPRM.options_of.__func__
    monkeypatch.setattr(ImplicitPRM, "options_of", classmethod(lambda cls, o: typed.append(o) or original(cls, o)))
    cfg = RunConfig(rm="implicit_ce", rm_options={"lr": "3e-4", "epochs": "2", "model": "ckpt", "ref": "base"})
    run_mod.check_config(cfg)
    rm = prepare_rm(cfg, TaskInputs([], None, None, None), log=lambda m: None)  # given a checkpoint: no training
    assert typed == [cfg.rm_options]  # the check and the adapter share one typing
    assert isinstance(rm, REWARD_MODELS.get("implicit_ce"))
    assert (rm.config.lr, rm.config.epochs, rm.config.model, rm.config.loss) == (3e-4, 2, "ckpt", "ce")
    rm.config.model = "another"  # what fit does: the run's typed options keep what was given
    assert cfg.rm_config.model == "ckpt" and cfg.reward_model().config.model == "ckpt"
    assert cfg.to_dict()["rm_options"] == {"lr": "3e-4", "epochs": "2", "model": "ckpt", "ref": "base"}  # as given
    with pytest.raises(TypeError):
        REWARD_MODELS.get("implicit_ce")(config=cfg.rm_config, lr="1")
