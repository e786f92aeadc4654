"""The candidate pool: JSON Lines, one problem a line (README.md, Layout: File formats).

    {"id": ..., "problem": ..., "reference": ..., "responses": [{"text": ..., "answer": ..., "correct": ...}],
     "meta": {...}}

`answer` and `correct` may be missing until grading fills them. Unknown keys are kept on round trip.
Validation reports the first problem as file:line, field, and what was expected.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from harness.core import cache
from harness.core.cache import stable_hash, write_text_atomic
from harness.core.errors import InputError


@dataclass
class Response:
    text: str
    answer: str | None = None
    correct: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"text": self.text}
        if self.answer is not None:
            d["answer"] = self.answer
        if self.correct is not None:
            d["correct"] = self.correct
        d.update(self.extra)
        return d


@dataclass
class Problem:
    id: str
    problem: str
    reference: str
    responses: list[Response]
    meta: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # unknown top-level keys, kept on round trip

    def to_dict(self) -> dict[str, Any]:
        d = {"id": self.id, "problem": self.problem, "reference": self.reference,
             "responses": [r.to_dict() for r in self.responses], "meta": self.meta}
        d.update({k: v for k, v in self.extra.items() if k not in d})
        return d


@dataclass
class Pool:
    problems: list[Problem]
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.problems)

    def __iter__(self):
        return iter(self.problems)

    @property
    def n_responses(self) -> int:
        return sum(len(p.responses) for p in self.problems)

    def content_hash(self) -> str:
        """Hash of what a reward model sees (ids, problems, response texts), not of grades or meta.

        Scores are keyed by this, so re-grading a pool does not invalidate its scores.
        """
        return stable_hash([[p.id, p.problem, [r.text for r in p.responses]] for p in self.problems])

    def grades_hash(self) -> str:
        return stable_hash([[p.reference, [[r.answer, r.correct] for r in p.responses]] for p in self.problems])

    def is_graded(self) -> bool:
        return all(r.correct is not None for p in self.problems for r in p.responses)

    def generator(self) -> str:
        gens = {p.meta.get("generator") for p in self.problems}
        return gens.pop() if len(gens) == 1 and None not in gens else "mixed"


_RESERVED = {"text", "answer", "correct"}
_RECORD_KEYS = {"id", "problem", "reference", "responses", "meta"}


def _expect(cond: bool, message: str, file, line: int, fld: str, expected: str) -> None:
    if not cond:
        raise InputError(message, file=file, line=line, field=fld, expected=expected)


def parse_record(rec: Any, file="<pool>", line: int = 1) -> Problem:
    _expect(isinstance(rec, dict), "record is not a JSON object", file, line, "<record>", "a JSON object")
    for key in ("id", "problem", "reference", "responses"):
        _expect(key in rec, "missing field", file, line, key, "present")
    pid = rec["id"]
    _expect(isinstance(pid, (str, int)), "wrong type", file, line, "id", "a string")
    _expect(isinstance(rec["problem"], str), "wrong type", file, line, "problem", "a string")
    ref = rec["reference"]
    _expect(isinstance(ref, (str, int, float)) and not isinstance(ref, bool), "wrong type", file, line,
            "reference", "a string")
    resps = rec["responses"]
    _expect(isinstance(resps, list), "wrong type", file, line, "responses", "a list of responses")
    _expect(len(resps) > 0, "no responses", file, line, "responses", "at least one response")
    out = []
    for j, r in enumerate(resps):
        where = f"responses[{j}]"
        if isinstance(r, str):  # a bare string is a response with no grade yet
            r = {"text": r}
        _expect(isinstance(r, dict), "wrong type", file, line, where, "an object with 'text' or a string")
        _expect("text" in r, "missing field", file, line, where + ".text", "present")
        _expect(isinstance(r["text"], str), "wrong type", file, line, where + ".text", "a string")
        ans = r.get("answer")
        _expect(ans is None or isinstance(ans, (str, int, float)) and not isinstance(ans, bool), "wrong type",
                file, line, where + ".answer", "a string or null")
        cor = r.get("correct")
        _expect(cor is None or isinstance(cor, bool), "wrong type", file, line, where + ".correct",
                "true, false or null")
        extra = {k: v for k, v in r.items() if k not in _RESERVED}
        out.append(Response(r["text"], None if ans is None else str(ans), cor, extra))
    meta = rec.get("meta", {})
    _expect(isinstance(meta, dict), "wrong type", file, line, "meta", "an object")
    extra = {k: v for k, v in rec.items() if k not in _RECORD_KEYS}
    return Problem(str(pid), rec["problem"], str(ref), out, meta, extra)


def iter_json_lines(path: str | os.PathLike, lines: Iterable[str] | None = None, *, hint: str = "truncated line?",
                    expected: str | None = None) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) of every non-blank line of a JSON Lines file (or of `lines` read from it).

    The one reader behind pools and importers: blank lines are skipped, a line that does not parse is an InputError
    naming file and line (with `hint` when the line has no newline: a file cut short), non-UTF-8 bytes are an
    InputError naming the file. Callers differ only in the hint and what they say is expected.
    """
    path = Path(path)
    try:
        with contextlib.nullcontext(lines) if lines is not None else open(path, encoding="utf-8") as f:
            for i, raw in enumerate(f, start=1):
                if not raw.strip():
                    continue
                try:
                    value = json.loads(raw)
                except json.JSONDecodeError as e:
                    extra = f" ({hint})" if not raw.endswith("\n") else ""
                    raise InputError(f"invalid JSON: {e.msg} at column {e.colno}{extra}", file=path, line=i,
                                     expected=expected) from None
                yield i, value
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text ({e.reason})", file=path) from None


def load_pool(path: str | os.PathLike) -> Pool:
    path = Path(path)
    if not path.exists():
        raise InputError("pool file not found", file=path)
    if path.is_dir():
        raise InputError("is a folder", file=path, expected="a pool file")
    return _read_pool(path)


def load_pool_checked(path: str | os.PathLike, action: str = "regenerating it") -> Pool | None:
    """A pool that is a cache entry (written by save_pool_checked): None when missing or when its bytes fail the
    checksum sidecar (reported on stderr, see harness.core.cache.read_bytes_checked). A legacy entry without a sidecar
    is accepted and gets one. A user's own pool file is not a cache entry: read it with load_pool."""
    path = Path(path)
    data = cache.read_bytes_checked(path, action)
    if data is None:
        return None
    try:
        pool = _read_pool(path, data.decode("utf-8").splitlines(keepends=True))
    except (UnicodeDecodeError, InputError) as e:  # only possible for a legacy entry: a checked one parsed when new
        cache.warn_corrupt(path, f"unreadable: {e}", action)
        return None
    if not cache.checksum_path(path).exists():
        cache.adopt_file(path, data)
    return pool


def save_pool_checked(pool: Pool | Iterable[Problem], path: str | os.PathLike) -> Path:
    """save_pool for a cache entry: atomic, plus a checksum sidecar that load_pool_checked verifies."""
    problems = pool.problems if isinstance(pool, Pool) else list(pool)
    if not problems:
        raise InputError("refusing to write an empty pool", file=path)
    return cache.write_bytes_checked(path, dumps_pool(problems).encode("utf-8"))


def _read_pool(path: Path, lines: Iterable[str] | None = None) -> Pool:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, rec in iter_json_lines(path, lines, hint="truncated line?", expected="one JSON object per line"):
        p = parse_record(rec, path, i)
        if p.id in seen:
            raise InputError(f"duplicate id '{p.id}' (first on line {seen[p.id]})", file=path, line=i,
                             field="id", expected="unique ids")
        seen[p.id] = i
        problems.append(p)
    if not problems:
        raise InputError("pool is empty", file=path, expected="at least one problem")
    return Pool(problems, path)


def dumps_pool(problems: Iterable[Problem]) -> str:
    return "".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in problems)


def save_pool(pool: Pool | Iterable[Problem], path: str | os.PathLike) -> Path:
    """Write atomically; the same pool always gives the same bytes."""
    problems = pool.problems if isinstance(pool, Pool) else list(pool)
    if not problems:
        raise InputError("refusing to write an empty pool", file=path)
    write_text_atomic(path, dumps_pool(problems))
    return Path(path)


def distinct_ratios(pool: Pool | Iterable[Problem]) -> dict[str, float | None]:
    """Share of distinct texts among a pool's correct and among its wrong responses, within each problem:
    sum over problems of distinct texts / sum of responses, per class (None for a class with no response).

    A deterministic scorer gives every copy of a text one score, so a pool whose correct responses are one repeated
    text is a different selection problem from a real pool (80-90% of correct responses distinct; wrong ones 98-99%).
    """
    counts = {True: [0, 0], False: [0, 0]}
    for p in pool:
        for ok in (True, False):
            texts = [r.text for r in p.responses if bool(r.correct) is ok and r.correct is not None]
            counts[ok][0] += len(set(texts))
            counts[ok][1] += len(texts)
    return {name: (d / n if n else None) for name, (d, n) in (("correct", counts[True]), ("wrong", counts[False]))}
