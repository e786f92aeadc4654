"""Persistent memo of grading calls: sqlite at <cache root>/grading/verdicts.sqlite.

One row per (grader version, kind, a, b): kind "eq" is a verdict for (reference, answer), kind "key" the vote key
of an answer (b = ""). A call that timed out is stored with the timeout it had, and is retried only by a run that
allows more time, so re-runs are cheap and deterministic. sqlite commits are atomic: an interrupted run keeps what
it committed and leaves nothing half-written.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from harness.errors import InputError

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
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path) if self.path else ":memory:", timeout=60)
            self._db.execute(_SCHEMA)
            self._db.commit()
        except sqlite3.DatabaseError as e:
            raise InputError(f"grading cache is unreadable ({e}); delete it to start afresh", file=self.path,
                             expected="an sqlite database") from None

    def get(self, version: str, kind: str, a: str, b: str, timeout: float | None) -> Any:
        """The cached result, TIMEOUT_HIT for a call that timed out at >= `timeout`, or MISS."""
        row = self._db.execute("SELECT value, timed_out FROM calls WHERE version=? AND kind=? AND a=? AND b=?",
                               (version, kind, a, b)).fetchone()
        if row is None:
            return MISS
        value, timed_out = row
        if timed_out is not None:
            # a timeout is final for any run that allows no more time than the one that hit it
            return TIMEOUT_HIT if timeout is not None and timeout <= timed_out else MISS
        return json.loads(value)

    def put_many(self, version: str, rows: list[tuple[str, str, str, Any, float | None]]) -> None:
        """rows of (kind, a, b, value, timed_out); one transaction."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO calls (version, kind, a, b, value, timed_out) VALUES (?, ?, ?, ?, ?, ?)",
                [(version, k, a, b, None if t is not None else json.dumps(v), t) for k, a, b, v, t in rows])

    def close(self) -> None:
        self._db.close()


class _TimeoutHit:
    def __repr__(self) -> str:
        return "TIMEOUT_HIT"


TIMEOUT_HIT = _TimeoutHit()
