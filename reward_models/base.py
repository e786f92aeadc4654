"""What every reward model provides: `fit` (cached checkpoint, no-op if untrained) and `score` (cached ScoreSet).

A score set is keyed by everything that determines its numbers: the adapter options that matter for scoring, the
fingerprint of every model file involved, and the pool's content hash. Batch sizes and padding side are not part of
the key, because the scores do not depend on them (tests/test_implicit.py checks that).

Scoring is resumable: the pool is scored in chunks of consecutive problems (harness.cache.plan_chunks), each
finished chunk is written (atomically, with a checksum) to `<entry>.chunks/`, a restarted run computes only the
missing chunks, and the merged entry replaces the folder. A file lock keeps two runs from computing one entry at once;
a damaged entry is reported and recomputed. Under torchrun each rank computes its share of the chunks.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from pathlib import Path
from typing import Any

from harness import cache
from harness.errors import InputError
from harness.scores import ScoreSet, check_matches, save_scores, score_dir

# Files whose bytes determine what a model computes on a text: weights, architecture, tokenization.
_FINGERPRINT_GLOBS = ("config.json", "*.safetensors", "*.gguf", "tokenizer.json", "tokenizer_config.json",
                      "special_tokens_map.json", "chat_template.jinja", "tokenizer.model", "vocab.json", "merges.txt")
_memo: dict[tuple, str] = {}


def fingerprint(model_dir: str | os.PathLike) -> str:
    """Hash of config.json, the weight files and the tokenizer files of a model folder (or one .gguf file).

    Hashing gigabytes takes a while, so each file's hash is remembered per (path, size, mtime) on disk.
    """
    path = Path(model_dir)
    if not path.exists():
        raise InputError("model not found", file=path)
    files = [path] if path.is_file() else sorted({f for g in _FINGERPRINT_GLOBS for f in path.glob(g)})
    if not files:
        raise InputError("no config.json or weight files to fingerprint", file=path,
                         expected="a Hugging Face model folder")
    return cache.stable_hash([[f.name, _file_hash_memo(f)] for f in files])


def _file_hash_memo(f: Path) -> str:
    st = f.stat()
    key = (str(f.resolve()), st.st_size, st.st_mtime_ns)
    if key in _memo:
        return _memo[key]
    memo_file = cache.root() / "fingerprints.json"
    disk = {}
    if memo_file.exists():
        try:
            disk = cache.read_json(memo_file)
        except (OSError, ValueError):
            disk = {}  # a damaged memo only costs re-hashing
    dkey = "|".join(map(str, key))
    if dkey not in disk:
        disk[dkey] = cache.file_hash(f)
        if st.st_size > (64 << 20):  # only worth remembering on disk for big files
            cache.write_json_atomic(memo_file, disk)
    _memo[key] = disk[dkey]
    return disk[dkey]


# --- options --------------------------------------------------------------------------------------------------------

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


@dataclasses.dataclass
class RMConfig:
    """Options every adapter accepts; adapters extend this."""


class RewardModel:
    name = "base"
    trainable = False
    chunkable = True  # compute_scores of a slice of a pool gives that slice's scores (see score_chunks)
    Config: type = RMConfig

    def __init__(self, **options: Any):
        self.config = make_config(self.Config, options, self.name)

    # Subclasses implement these two -------------------------------------------------------------------------------
    def scoring_identity(self) -> dict[str, Any]:
        """Everything the scores depend on besides the pool (options, model fingerprints)."""
        raise NotImplementedError

    def compute_scores(self, pool) -> tuple[list[list[list[float]]], dict[str, Any]]:
        """Step scores of every response of `pool`, and meta to store with them."""
        raise NotImplementedError

    # ---------------------------------------------------------------------------------------------------------------
    def fit(self, train_pool, base_model: str, val_pool=None) -> Path | None:
        return None  # untrained reward models have nothing to fit

    def score_key(self, pool) -> str:
        return cache.stable_hash({"rm": self.name, "scoring": self.scoring_identity(), "pool": pool.content_hash()})

    def score_path(self, pool) -> Path:
        return score_dir(pool.content_hash()) / f"{self.name}-{self.score_key(pool)}.json"

    def score(self, pool) -> ScoreSet:
        """The cached score set of `pool`, computed chunk by chunk if missing (see _compute_chunks).

        Under torchrun every rank calls this; rank 0 holds the entry's lock, says which chunks are missing, merges
        and writes; every rank returns the merged score set.
        """
        from harness import distributed
        world = distributed.current()
        key = self.score_key(pool)
        path = score_dir(pool.content_hash()) / f"{self.name}-{key}.json"
        if not world.is_main:
            found = distributed.broadcast_json(None)
            if found is None:
                self._compute_chunks(pool, key, path, world)
                found = distributed.broadcast_json(None)
            return ScoreSet(**found)
        ss, seen = self._cached(path, pool), cache.stamp(path)
        if ss is None:
            with cache.locked(path):
                if cache.stamp(path) != seen:  # another run wrote it while we waited
                    ss = self._cached(path, pool)
                if ss is None:
                    distributed.broadcast_json(None)
                    ss = self._compute_chunks(pool, key, path, world)
        distributed.broadcast_json(ss.to_dict())
        return ss

    def _cached(self, path: Path, pool) -> ScoreSet | None:
        """The stored score set, or None if missing or damaged (damage is reported and the entry recomputed)."""
        d = cache.read_json_checked(path)
        if d is None:
            return None
        try:
            ss = ScoreSet(d["rm"], d["pool_hash"], d["step_scores"], d.get("meta", {}))
            check_matches(ss, pool)
        except (TypeError, KeyError, InputError) as e:
            cache.warn_corrupt(path, f"does not fit its pool: {e}")
            return None
        return ss

    def score_chunks(self, pool) -> list[tuple[int, int]]:
        """Problem ranges scored one at a time: chunks of $HARNESS_CHUNK_PROBLEMS, or the whole pool at once for
        adapters whose scores of a problem depend on the rest of the pool (chunkable = False)."""
        n = len(pool.problems)
        return cache.plan_chunks(n, cache.chunk_problems() if self.chunkable else max(n, 1))

    def _compute_chunks(self, pool, key: str, path: Path, world) -> ScoreSet | None:
        """Compute the missing chunks (this rank's share of them), keep each finished one on disk, merge on rank 0.

        Every chunk's values go through JSON before they are used, so a merge of chunks computed now and chunks read
        back after a restart is the same, bit for bit, as one uninterrupted run.
        """
        import json
        import sys
        import time

        from harness import distributed, progress
        from harness.pool import Pool
        spans = self.score_chunks(pool)
        store = cache.ChunkStore(path.with_suffix(".chunks"))
        keep = len(spans) > 1  # a single chunk is the product itself
        keys = [cache.stable_hash([key, span, Pool(pool.problems[span[0]:span[1]]).content_hash()])
                for span in spans]
        values: dict[int, dict] = {}
        if world.is_main and keep:
            for i, span in enumerate(spans):
                v = store.load(span, keys[i])
                if v is not None:
                    values[i] = v
            if values:
                print(f"[score] {self.name}: resuming, {len(values)} of {len(spans)} chunks already done "
                      f"({store.folder})", file=sys.stderr)
        todo = distributed.broadcast_json([i for i in range(len(spans)) if i not in values])
        delay = cache.chunk_delay()
        computed = {}
        mine = world.mine(todo)
        bar = progress.bar(len(mine), f"score {self.name}", "chunk",
                           enabled=keep and getattr(self.config, "progress", True))
        for i in mine:
            a, b = spans[i]
            part = Pool(pool.problems[a:b], pool.path)
            steps, meta = self.compute_scores(part)
            check_matches(ScoreSet(self.name, part.content_hash(), steps), part)
            value = json.loads(json.dumps({"steps": steps, "meta": meta}))
            if keep:
                store.save(spans[i], keys[i], value)
            computed[str(i)] = value
            bar.update(1)
            if delay and keep:
                time.sleep(delay)
        bar.close()
        gathered = distributed.gather_json(computed)
        if not world.is_main:
            return None
        for part_values in gathered:
            values.update({int(i): v for i, v in part_values.items()})
        if world.active:
            print(f"[score] {self.name}: {len(todo)} chunks computed by {world.size} processes ("
                  + ", ".join(f"rank {r}: {len(p)}" for r, p in enumerate(gathered)) + ")", file=sys.stderr)
        missing = [i for i in range(len(spans)) if i not in values]
        if missing:  # cannot happen unless a rank lost work; never write a partial product
            raise RuntimeError(f"chunks {missing} of {path} were not computed")
        steps = [row for i in range(len(spans)) for row in values[i]["steps"]]
        meta = merge_meta([values[i]["meta"] for i in range(len(spans))])
        ss = ScoreSet(self.name, pool.content_hash(), steps, {"key": key, **self.scoring_identity(), **meta})
        check_matches(ss, pool)
        save_scores(ss, key)
        if keep:
            store.clear()
        return ss


def merge_meta(metas: list[dict]) -> dict:
    """One meta for chunks scored apart: integer values are counts (e.g. truncated responses) and add up; anything
    else is the same for every chunk and is taken from the first."""
    out: dict = {}
    for m in metas:
        for k, v in m.items():
            if k in out and _is_count(v) and _is_count(out[k]):
                out[k] += v
            else:
                out.setdefault(k, v)
    return out


def _is_count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)
