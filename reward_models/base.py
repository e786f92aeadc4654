"""What every reward model provides: `fit` (cached checkpoint, no-op if untrained) and `score` (cached ScoreSet).

A score set is keyed by everything that determines its numbers: the adapter options that matter for scoring, the
fingerprint of every model file involved, and the pool's content hash. Batch sizes and padding side are not part of
the key, because the scores do not depend on them (tests/test_implicit.py checks that).
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
from harness.scores import ScoreSet, check_matches, load_scores, save_scores, score_dir

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

    def score(self, pool) -> ScoreSet:
        key = self.score_key(pool)
        path = score_dir(pool.content_hash()) / f"{self.name}-{key}.json"
        if path.exists():
            ss = load_scores(path)
            check_matches(ss, pool)
            return ss
        steps, meta = self.compute_scores(pool)
        ss = ScoreSet(self.name, pool.content_hash(), steps, {"key": key, **self.scoring_identity(), **meta})
        check_matches(ss, pool)
        save_scores(ss, key)
        return ss
