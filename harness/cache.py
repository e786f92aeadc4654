"""Content-addressed cache: every product lives under a key that hashes everything that determines it.

Layout: <root>/<kind>/<key>/... . The root is `--cache-dir`, else $HARNESS_CACHE, else ./.cache/harness.
Writes go to a temporary file in the same folder and are renamed into place, so a crash never leaves a
half-written product where a later run would find it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

_ROOT: Path | None = None


def set_root(path: str | os.PathLike | None) -> None:
    global _ROOT
    _ROOT = Path(path) if path is not None else None


def root() -> Path:
    if _ROOT is not None:
        return _ROOT
    return Path(os.environ.get("HARNESS_CACHE", ".cache/harness"))


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def stable_hash(obj: Any, length: int = 16) -> str:
    """Hash of a JSON-able object that does not depend on dict order or the Python session."""
    return hashlib.sha256(canonical_json(obj).encode("utf-8")).hexdigest()[:length]


def file_hash(path: str | os.PathLike, length: int = 16) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:length]


def entry(kind: str, key: str) -> Path:
    return root() / kind / key


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, mode_suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed onto `path`, on failure removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp" + mode_suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.is_file():  # mkstemp makes 0600 files; a product is an ordinary file like any other
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike, obj: Any, indent: int | None = None) -> None:
    write_text_atomic(path, json.dumps(obj, ensure_ascii=False, indent=indent, sort_keys=indent is not None) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; on success it replaces `path` in one rename, on failure it is removed."""
    import shutil
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="." + path.name + ".", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def using(path: str | os.PathLike) -> Iterator[Path]:
    """Temporarily point the cache at `path` (tests, benchmarks)."""
    global _ROOT
    before = _ROOT
    _ROOT = Path(path)
    try:
        yield _ROOT
    finally:
        _ROOT = before
