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
