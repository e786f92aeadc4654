"""The fingerprint of a model folder: a hash of the files that decide what it computes on a text, so cached
products (checkpoints, scores, pools) are keyed by the model's content, not by its path."""

from __future__ import annotations

import os
from pathlib import Path

from harness.core import cache
from harness.core.errors import InputError

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
