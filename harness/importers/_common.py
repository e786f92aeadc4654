"""Reading other tools' files with errors that name file, line (or record index) and field.

Everything here raises InputError for bad input; no importer lets a KeyError or a JSON traceback reach the user.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any, Iterator, NoReturn

from harness.core.errors import InputError
from harness.core.pool import iter_json_lines

_REPO = Path(__file__).resolve().parents[2]


def shared_data(*parts: str) -> Path | None:
    """A file under ../shared/data beside the checkout, or None when it is not there."""
    p = _REPO.parent.joinpath("shared", "data", *parts)
    return p if p.exists() else None


class Rec:
    """One source record and where it came from, so every complaint about it can say where."""

    def __init__(self, data: Any, file: Path, line: int | None, prefix: str = ""):
        self.data, self.file, self.line, self.prefix = data, file, line, prefix
        if not isinstance(data, dict):
            self.fail("<record>", "record is not a JSON object", "a JSON object")

    def fail(self, field: str, message: str, expected: str | None = None) -> NoReturn:
        raise InputError(message, file=self.file, line=self.line, field=self.prefix + field, expected=expected)

    def first(self, *names: str, required: bool = True) -> tuple[str, Any]:
        """(name, value) of the first of `names` present; a missing required field is an error."""
        for n in names:
            if n in self.data:
                return n, self.data[n]
        if required:
            self.fail(" or ".join(names), "missing field", "present")
        return names[0], None

    def text(self, *names: str, required: bool = True) -> str | None:
        name, v = self.first(*names, required=required)
        if v is None and not required:
            return None
        if not isinstance(v, str):
            self.fail(name, f"wrong type {type(v).__name__}", "a string")
        return v

    def scalar(self, *names: str, required: bool = True) -> str | None:
        """A reference or answer: a string or a number, kept as text."""
        name, v = self.first(*names, required=required)
        return as_answer(v, self, name, allow_none=not required)

    def listing(self, name: str, *alternatives: str) -> tuple[str, list]:
        """A list field; a string holding a Python-literal list (as some tools write them) is parsed safely."""
        name, v = self.first(name, *alternatives)
        return name, literal_list(v, self, name)


def as_answer(v: Any, rec: Rec, field: str, allow_none: bool = True) -> str | None:
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        rec.fail(field, f"wrong type {type(v).__name__}", "a string or a number" + (" or null" if allow_none else ""))
    return str(v)


def as_label(v: Any, rec: Rec, field: str) -> bool | None:
    """A correctness label: true/false (or 1/0, as some tools write them); null means unknown."""
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    rec.fail(field, f"wrong value {v!r}", "true, false, 1, 0 or null")


def literal_list(v: Any, rec: Rec, field: str) -> list:
    if isinstance(v, str):
        # Never eval: literal_eval accepts only Python literals, so a crafted file cannot run code.
        try:
            v = ast.literal_eval(v)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as e:
            rec.fail(field, f"not a Python-literal list ({type(e).__name__})", "a list or a string holding one")
    if not isinstance(v, list):
        rec.fail(field, f"wrong type {type(v).__name__}", "a list")
    return v


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError("file not found", file=path)
    if path.is_dir():
        raise InputError("is a folder", file=path, expected="a file")


def _decode_error(path: Path, e: json.JSONDecodeError, line: int, truncated: bool) -> InputError:
    hint = " (truncated file?)" if truncated else ""
    return InputError(f"invalid JSON: {e.msg} at column {e.colno}{hint}", file=path, line=line)


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for every non-blank line (harness.core.pool.iter_json_lines, with this module's
    wording: the whole file is one import, so a cut-short last line is a truncated file)."""
    _check_file(path)
    n = 0
    for i, value in iter_json_lines(path, hint="truncated file?"):
        n += 1
        yield i, value
    if n == 0:
        raise InputError("file has no records", file=path, expected="one JSON object per line")


def read_text(path: Path) -> str:
    _check_file(path)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text ({e.reason})", file=path) from None


def iter_records(path: Path) -> Iterator[tuple[int, str, Any]]:
    """(line, field prefix, value) of every record of a JSON array file or a JSON Lines file.

    An array's elements are decoded one at a time so each record is reported by its start line and index.
    """
    text = read_text(path)
    start = len(text) - len(text.lstrip())
    if not text.startswith("[", start):
        for line, value in iter_jsonl(path):
            yield line, "", value
        return
    dec = json.JSONDecoder()
    pos, line, counted, index = start + 1, 1, 0, 0

    def line_at(p: int) -> int:
        nonlocal line, counted
        line += text.count("\n", counted, p)
        counted = p
        return line

    def skip_ws(p: int) -> int:
        while p < len(text) and text[p] in " \t\r\n":
            p += 1
        return p

    pos = skip_ws(pos)
    if pos < len(text) and text[pos] == "]":
        raise InputError("file has no records", file=path, expected="a non-empty JSON array")
    while True:
        pos = skip_ws(pos)
        try:
            value, end = dec.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            raise _decode_error(path, e, e.lineno, e.pos >= len(text.rstrip())) from None
        yield line_at(pos), f"[{index}].", value
        index += 1
        pos = skip_ws(end)
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        if pos < len(text) and text[pos] == "]":
            rest = skip_ws(pos + 1)
            if rest < len(text):
                raise InputError("extra data after the JSON array", file=path, line=line_at(rest))
            return
        truncated = pos >= len(text)
        raise InputError("invalid JSON: expected ',' or ']' after a record" + (" (truncated file?)" if truncated
                         else ""), file=path, line=line_at(min(pos, len(text))))


def normalize_problem(text: str) -> str:
    """Problem text compared for joins: whitespace differences between tools' copies do not count."""
    return " ".join(text.split())


def load_reference(path: Path) -> list[Rec]:
    """A MATH-style JSONL (MATH500.jsonl: problem, answer, unique_id, ...) to join imported problems with."""
    recs = []
    for line, value in iter_jsonl(path):
        r = Rec(value, path, line)
        r.text("problem")
        r.text("unique_id")
        recs.append(r)
    return recs
