"""Typed options (harness.core.options): command-line strings become field types, flags derive from dataclasses in
a stable order, a bad value is one InputError naming the field, and help comes from metadata or the source."""

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


def test_help_comes_from_metadata_else_the_fields_comment():
    assert field_help(A) == {"data": "a local file", "max_problems": "", "splits": "comma-separated splits"}
    from reward_models.implicit import ImplicitConfig
    helps = field_help(ImplicitConfig)  # inherited fields are read from the class that declares them
    assert helps["loss"].startswith("dpo | kto") and helps["reward"] == "single | accumulative"
