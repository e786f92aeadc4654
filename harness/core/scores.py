"""Score sets: the step scores of every response of one pool under one reward model.

Stored as JSON (never pickle) at <cache>/scores/<pool content hash>/<rm>-<config key>.json, so the leaderboard can
find every score set of a pool without loading a model. `step_scores[i][j]` is the list of step scores of response j
of problem i, in pool order; an ORM has one "step".
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness.core import cache
from harness.core.errors import InputError

AGGREGATIONS = ("min", "sum", "mean", "last", "prod")


@dataclass
class ScoreSet:
    rm: str
    pool_hash: str
    step_scores: list[list[list[float]]]
    meta: dict[str, Any] = field(default_factory=dict)

    def aggregate(self, how: str = "min") -> list[np.ndarray]:
        """One score per response (a ragged list: one array per problem)."""
        fn = _AGG.get(how)
        if fn is None:
            raise InputError(f"unknown aggregation '{how}'", expected="one of " + ", ".join(AGGREGATIONS))
        return [np.array([fn(s) if len(s) else -math.inf for s in prob], dtype=np.float64)
                for prob in self.step_scores]

    def to_dict(self) -> dict[str, Any]:
        return {"rm": self.rm, "pool_hash": self.pool_hash, "meta": self.meta, "step_scores": self.step_scores}


_AGG = {
    "min": min,
    "sum": math.fsum,
    "mean": lambda s: math.fsum(s) / len(s),
    "last": lambda s: s[-1],
    "prod": lambda s: math.prod(s),
}


def score_dir(pool_hash: str) -> Path:
    return cache.root() / "scores" / pool_hash


def save_scores(ss: ScoreSet, key: str | None = None) -> Path:
    key = key or cache.stable_hash(ss.meta)
    path = score_dir(ss.pool_hash) / f"{ss.rm}-{key}.json"
    cache.write_json_checked(path, ss.to_dict())  # atomic, with a checksum verified on read
    return path


def load_scores(path: str | Path, data: bytes | None = None) -> ScoreSet:
    try:
        d = json.loads(data) if data is not None else cache.read_json(path)
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read score set: {e}", file=path) from None
    if not isinstance(d, dict):
        raise InputError("not a score set", file=path, expected="a JSON object")
    for k in ("rm", "pool_hash", "step_scores"):
        if k not in d:
            raise InputError("missing field", file=path, field=k)
    return ScoreSet(d["rm"], d["pool_hash"], d["step_scores"], d.get("meta", {}))


def list_scores(pool_hash: str) -> list[ScoreSet]:
    d = score_dir(pool_hash)
    if not d.exists():
        return []
    out = []
    for p in sorted(d.glob("*.json")):
        data = cache.read_bytes_checked(p, action="ignoring it (`score` recomputes it)")
        if data is not None:
            out.append(load_scores(p, data))
    return out


def check_matches(ss: ScoreSet, pool) -> None:
    """A score set must have exactly one score list per response of the pool it claims to score."""
    if len(ss.step_scores) != len(pool.problems):
        raise InputError(f"score set '{ss.rm}' has {len(ss.step_scores)} problems, pool has {len(pool.problems)}")
    for i, (s, p) in enumerate(zip(ss.step_scores, pool.problems)):
        if len(s) != len(p.responses):
            raise InputError(f"score set '{ss.rm}': problem {p.id} has {len(s)} scores for {len(p.responses)} "
                             "responses")
