"""Persistent memo of grading calls: sqlite at <cache root>/grading/verdicts.sqlite.

One row per (grader version, kind, a, b): kind "eq" is a verdict for (reference, answer), kind "key" the vote key
of an answer (b = ""). A call that timed out is stored with the timeout it had, and is retried only by a run that
allows more time, so re-runs are cheap and deterministic. sqlite commits are atomic: an interrupted run keeps what
it committed and leaves nothing half-written.

Damage: sqlite's own journal keeps a crash from corrupting the file, and it detects a damaged file itself ("file is
not a database", "database disk image is malformed") the moment it reads the bad page. Such a database is reported
on stderr (one line naming the file), moved aside to `<file>.damaged` and replaced by an empty one: verdicts are a
memo, so losing them costs only recomputing. A stored value that does not parse is a miss and is recomputed. (A
per-file checksum sidecar, as for the other cache entries, cannot work here: the file changes on every commit.)
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from harness.core import cache
from harness.core.errors import InputError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    version TEXT NOT NULL, kind TEXT NOT NULL, a TEXT NOT NULL, b TEXT NOT NULL,
    value TEXT,            -- JSON of the result; NULL when timed_out is set
    timed_out REAL,        -- the timeout (s) the call exceeded, or NULL
    PRIMARY KEY (version, kind, a, b)
)
"""

MISS = object()


class VerdictCache:
    def __init__(self, path: str | Path | None):
        """`path` None keeps nothing between runs (an in-memory database)."""
        self.path = Path(path) if path is not None else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._open()
        except sqlite3.DatabaseError as e:
            if not _is_damage(e) or self.path is None:  # e.g. no permission: nothing to replace
                raise InputError(f"grading cache is unreadable ({e})", file=self.path,
                                 expected="a readable sqlite database") from None
            self._replace_damaged(e)

    def _open(self) -> None:
        self._db = sqlite3.connect(str(self.path) if self.path else ":memory:", timeout=60)
        self._db.execute(_SCHEMA)
        self._db.commit()

    def _replace_damaged(self, e: sqlite3.DatabaseError) -> None:
        """Report a damaged database, move it aside and start an empty one (an error only if that fails too)."""
        if self.path is None or not _is_damage(e):
            raise e  # not damage (busy past the timeout, disk full, ...): say so, do not throw verdicts away

        aside = self.path.with_name(self.path.name + ".damaged")
        cache.warn_corrupt(self.path, f"sqlite: {e}", f"moved to {aside.name}, starting an empty grading cache")
        try:
            if getattr(self, "_db", None) is not None:
                self._db.close()
            os.replace(self.path, aside)
            for suffix in ("-journal", "-wal", "-shm"):  # sqlite's side files go with their database
                side = self.path.with_name(self.path.name + suffix)
                if side.exists():
                    os.replace(side, aside.with_name(aside.name + suffix))
            self._open()
        except (OSError, sqlite3.DatabaseError) as e2:
            raise InputError(f"grading cache is unreadable ({e2}); delete it to start afresh", file=self.path,
                             expected="an sqlite database") from None

    def get(self, version: str, kind: str, a: str, b: str, timeout: float | None) -> Any:
        """The cached result, TIMEOUT_HIT for a call that timed out at >= `timeout`, or MISS."""
        query = "SELECT value, timed_out FROM calls WHERE version=? AND kind=? AND a=? AND b=?"
        try:
            row = self._db.execute(query, (version, kind, a, b)).fetchone()
        except sqlite3.DatabaseError as e:
            self._replace_damaged(e)
            return MISS
        if row is None:
            return MISS
        value, timed_out = row
        if timed_out is not None:
            # a timeout is final for any run that allows no more time than the one that hit it
            return TIMEOUT_HIT if timeout is not None and timeout <= timed_out else MISS
        try:
            return json.loads(value)
        except (TypeError, ValueError):
            return MISS  # a damaged value: computed again and replaced

    def put_many(self, version: str, rows: list[tuple[str, str, str, Any, float | None]]) -> None:
        """rows of (kind, a, b, value, timed_out); one transaction."""
        try:
            self._put_many(version, rows)
        except sqlite3.DatabaseError as e:
            self._replace_damaged(e)
            self._put_many(version, rows)

    def _put_many(self, version: str, rows) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO calls (version, kind, a, b, value, timed_out) VALUES (?, ?, ?, ?, ?, ?)",
                [(version, k, a, b, None if t is not None else json.dumps(v), t) for k, a, b, v, t in rows])

    def close(self) -> None:
        self._db.close()


def _is_damage(e: sqlite3.DatabaseError) -> bool:
    """SQLITE_CORRUPT / SQLITE_NOTADB arrive as the base DatabaseError; its subclasses are something else (locks,
    I/O, constraint errors)."""
    return type(e) is sqlite3.DatabaseError


class _TimeoutHit:
    def __repr__(self) -> str:
        return "TIMEOUT_HIT"


TIMEOUT_HIT = _TimeoutHit()
