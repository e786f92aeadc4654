"""Typed options (harness.core.options): command-line strings become field types, flags derive from dataclasses in
a stable order, a bad value is one InputError naming the field, and help is each field's metadata: every option of
every registered reward model and task has one."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import pytest

from harness.core.errors import InputError
from harness.core.options import add_flags, defaults, field_help, given, make_config


@dataclass
class A:
    data: str | None = field(default=None, metadata={"help": "a local file"})
    max_problems: int | str = 100
    splits: list[str] | None = None  # comma-separated splits

    def __post_init__(self):
        if self.max_problems != "all" and (not isinstance(self.max_problems, int) or self.max_problems < 2):
            raise InputError(f"cannot read '{self.max_problems}'", field="--max-problems")


@dataclass
class B:
    splits: list[str] | None = None
    tune_on: str = "gsm8k"
    flag: bool = False


def test_strings_become_field_types():
    assert make_config(A, {"max_problems": "7", "splits": "gsm8k, math,"}, "a") == A(None, 7, ["gsm8k", "math"])
    assert make_config(A, {"max_problems": "all", "data": "none"}, "a") == A(None, "all", None)
    assert make_config(B, {"flag": "yes"}, "b").flag is True
    with pytest.raises(InputError, match="unknown option for b"):
        make_config(B, {"nope": "1"}, "b")
    with pytest.raises(InputError, match="bad value 'maybe'"):
        make_config(B, {"flag": "maybe"}, "b")
    assert defaults(A) == {"data": None, "max_problems": 100, "splits": None}


def test_flags_from_dataclasses_keep_their_order_and_the_first_declaration_checks():
    p = argparse.ArgumentParser()
    assert add_flags(p, {"a": A, "b": B}) == ["data", "max_problems", "splits", "tune_on", "flag"]
    args = p.parse_args(["--tune-on", "math", "--splits", "math,gsm8k", "--max-problems", "4"])
    assert given(args, {"a": A, "b": B}) == {"max_problems": 4, "splits": ["math", "gsm8k"], "tune_on": "math"}
    assert list(given(args, {"a": A, "b": B})) == ["max_problems", "splits", "tune_on"]  # flag order, not dict order
    with pytest.raises(InputError, match="--max-problems"):
        given(p.parse_args(["--max-problems", "1"]), {"a": A, "b": B})
    assert given(p.parse_args([]), {"a": A, "b": B}) == {}
    assert "a: a local file" in p.format_help()


def test_help_is_the_fields_metadata_only():
    assert field_help(A) == {"data": "a local file", "max_problems": "", "splits": ""}  # a comment is not help
    from reward_models.implicit import ImplicitConfig
    helps = field_help(ImplicitConfig)  # inherited fields keep their own help
    assert helps["loss"].startswith("dpo | kto") and helps["reward"] == "single | accumulative"
    # whole, where a help written as a source comment wrapped onto the next line was cut at the wrap
    assert helps["share_prefix"].endswith("35-45% fewer tokens on the arith test pools: "
                                          "reward_models/lm/prefix_tree.py)")
    assert helps["pairing"].endswith("(\"all\" won on the arith validation split for both: "
                                     "results/tuning/*.options.json)")


def option_classes() -> dict[str, type]:
    """{owner: options dataclass} of every registered reward model (its Config) and task (its Options)."""
    from reward_models import REWARD_MODELS
    from tasks import TASKS
    return {**{f"reward model {n}": REWARD_MODELS.get(n).Config for n in REWARD_MODELS.names()},
            **{f"task {n}": TASKS.get(n).Options for n in TASKS.names()}}


def test_every_option_of_every_reward_model_and_task_has_help():
    owners = option_classes()
    assert {"reward model implicit_ce", "reward model qwen_prm", "task processbench"} <= set(owners)
    missing = [f"{owner}: {name}" for owner, cls in owners.items()
               for name, text in field_help(cls).items() if not text.strip()]
    assert missing == [], "options without field(metadata={'help': ...}): " + ", ".join(missing)
    assert sum(len(field_help(cls)) for cls in owners.values()) > 100
