"""Typed option dataclasses: values from the command line (`--set KEY=VALUE`, strings) become field types, and an
unknown key or a bad value is one InputError that names the option."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from harness.core.errors import InputError


def make_config(cls, options: dict[str, Any], owner: str):
    """Build dataclass `cls` from keyword options; strings (from the command line) are converted to field types."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    values = {}
    for k, v in options.items():
        if k not in names:
            raise InputError(f"unknown option for {owner}", field=k, expected="one of " + ", ".join(names))
        values[k] = _coerce(v, hints[k], k, owner)
    return cls(**values)


def _coerce(value, hint, name, owner):
    if not isinstance(value, str):
        return value
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union \
        else (hint,)
    if type(None) in args and value.lower() in ("none", "null", ""):
        return None
    for t in args:
        try:
            if typing.get_origin(t) is list:  # comma-separated, as on the command line: --splits gsm8k,math
                return [x.strip() for x in value.split(",") if x.strip()]
            if t is bool:
                if value.lower() in ("true", "1", "yes"):
                    return True
                if value.lower() in ("false", "0", "no"):
                    return False
                continue
            if t in (int, float):
                return t(value)
            if t is str:
                return value
        except ValueError:
            continue
    expected = " or ".join(getattr(t, "__name__", str(t)) for t in args)
    raise InputError(f"bad value '{value}' for {owner}", field=name, expected=expected)


def defaults(cls) -> dict[str, Any]:
    """{field: default} of an options dataclass (default factories called)."""
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def add_flags(parser, owners: dict[str, type]) -> list[str]:
    """A flag --a-b for every field a_b of the option dataclasses {owner: cls} (the first owner's help for a field
    several declare), its value kept as the string given (None when absent); the field names, in flag order."""
    helps: dict[str, list[str]] = {}
    for owner, cls in owners.items():
        for f in dataclasses.fields(cls):
            helps.setdefault(f.name, []).append(f"{owner}: {f.metadata.get('help', '')}".rstrip(": "))
    for name, texts in helps.items():
        parser.add_argument("--" + name.replace("_", "-"), default=None, help="; ".join(texts))
    return list(helps)


def given(args, owners: dict[str, type]) -> dict[str, Any]:
    """The fields of `owners` given on the command line, typed and checked by the first dataclass declaring each
    (its __post_init__ says what a bad value should be), in flag order."""
    out = {}
    for owner, cls in owners.items():
        mine = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
                if getattr(args, f.name, None) is not None and f.name not in out}
        if mine:
            typed = make_config(cls, mine, owner)
            out.update({k: getattr(typed, k) for k in mine})
    return {name: out[name] for name in _flag_order(owners) if name in out}


def given_for(args, owners: dict[str, type], chosen: str, kind: str = "task") -> dict[str, Any]:
    """The fields of `owners` given on the command line, typed and checked by the dataclass of `chosen` alone; a flag
    that `chosen` does not have is one InputError naming the flag and the owners that have it (an option of another
    task is refused, not silently ignored)."""
    mine = {f.name for f in dataclasses.fields(owners[chosen])} if chosen in owners else set()
    for name in _flag_order(owners):
        if getattr(args, name, None) is not None and name not in mine:
            having = [o for o, cls in owners.items() if name in {f.name for f in dataclasses.fields(cls)}]
            flag = "--" + name.replace("_", "-")
            raise InputError(f"{kind} '{chosen}' has no option {flag}; it is an option of {kind} "
                             + ", ".join(f"'{o}'" for o in having), field=flag,
                             expected=f"--{kind} " + " or ".join(having) + f", or no {flag}")
    return given(args, {chosen: owners[chosen]}) if chosen in owners else {}


def _flag_order(owners: dict[str, type]) -> list[str]:
    seen: dict[str, None] = {}
    for cls in owners.values():
        seen.update({f.name: None for f in dataclasses.fields(cls)})
    return list(seen)


def field_help(cls) -> dict[str, str]:
    """{field: help} of an options dataclass: each field's `help` metadata (inherited fields keep theirs), the one
    text `--set`, task flags and `list --rm` show; a field without one has "" (tests/core/test_options.py requires
    one of every reward model's and task's option)."""
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}
