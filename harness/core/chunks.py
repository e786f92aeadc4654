"""Locks and resumable chunks over the cache: one run computes an entry while others wait for it, and a long
computation keeps each finished chunk of problems on disk, so a restarted run computes only what is missing."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
from pathlib import Path
from typing import Any, Iterator

from filelock import FileLock, Timeout

from harness.core import cache
from harness.core.errors import InputError

# --- locks -------------------------------------------------------------------------------------------------------

def lock_path(path: str | os.PathLike) -> Path:
    """<root>/locks/<entry name>-<hash of its absolute path>.lock: lock files stay (removing one safely is not
    possible while another run may be waiting on it), so they live apart from the products."""
    path = Path(path).absolute()
    return cache.root() / "locks" / f"{path.name}-{hashlib.sha256(str(path).encode()).hexdigest()[:12]}.lock"


@contextlib.contextmanager
def locked(path: str | os.PathLike, log=None) -> Iterator[None]:
    """Hold an exclusive lock on entry `path` so concurrent runs do not compute and write the same entry twice;
    a run that has to wait says so once."""
    lp = lock_path(path)
    lp.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lp))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        (log or (lambda m: print(m, file=sys.stderr)))(
            f"waiting for another run that is writing {path} (lock file {lp})")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


# --- chunked progress --------------------------------------------------------------------------------------------
# A long stage over a pool works through chunks of consecutive problems. Each finished chunk is a verified entry in
# a folder beside the product; a restarted run loads the finished ones and computes only the rest. The chunk plan
# depends only on the pool size and the chunk size, never on how many processes share the work, so a chunk's
# numbers (and so the merged product) are the same however the run was interrupted or split.

DEFAULT_CHUNK_PROBLEMS = 32


def chunk_problems() -> int:
    """Problems per chunk: $HARNESS_CHUNK_PROBLEMS, else 32."""
    raw = os.environ.get("HARNESS_CHUNK_PROBLEMS", "")
    if not raw:
        return DEFAULT_CHUNK_PROBLEMS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise InputError(f"cannot read '{raw}'", field="HARNESS_CHUNK_PROBLEMS", expected="an integer >= 1")
    return value


def plan_chunks(n: int, size: int) -> list[tuple[int, int]]:
    """[start, stop) ranges of `size` items covering range(n)."""
    return [(a, min(a + size, n)) for a in range(0, n, size)]


class ChunkStore:
    """Finished chunks of one product, each `<folder>/<start>-<stop>.json` (+ checksum), tagged with a key that
    identifies the chunk's inputs so a chunk of some other plan or input is never mistaken for this one."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def path(self, span: tuple[int, int]) -> Path:
        return self.folder / f"{span[0]:07d}-{span[1]:07d}.json"

    def load(self, span: tuple[int, int], key: str) -> Any:
        """The stored value of a finished chunk, or None."""
        if not self.folder.is_dir():
            return None
        rec = cache.read_json_checked(self.path(span))
        if not isinstance(rec, dict) or rec.get("key") != key or "value" not in rec:
            return None
        return rec["value"]

    def save(self, span: tuple[int, int], key: str, value: Any) -> None:
        cache.write_json_checked(self.path(span), {"key": key, "span": list(span), "value": value})

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def chunk_delay() -> float:
    """Seconds to pause after each computed chunk ($HARNESS_CHUNK_DELAY): lets tests interrupt a run mid-way."""
    try:
        return max(0.0, float(os.environ.get("HARNESS_CHUNK_DELAY", "0") or 0))
    except ValueError:
        return 0.0
