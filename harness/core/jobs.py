"""One resumable, locked, checksummed, chunked job, written once: scoring, sampling pools, guided search, reference
log-probs, the arith world's pools and Monte-Carlo step labels all run through `run`, and say only what differs.

The engine owns the loop they shared: finished chunks are loaded from the store (and "resuming, k of n chunks
already done" said), rank 0 broadcasts the chunks still to do, each rank computes its share (chunk i goes to rank
i % world size, harness.core.distributed), every computed value goes through JSON before it is kept or used (so a
run resumed from stored chunks equals an uninterrupted one, bit for bit), each is saved as it finishes, rank 0
gathers the shares, refuses to write a product with a chunk missing, merges in chunk order and then drops the store.
`once` is the lock around it: a product another run is writing is waited for and reused, not computed twice.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence, TypeVar

from harness.core import cache, chunks, distributed, progress

Span = tuple[int, int]
T = TypeVar("T")


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


@dataclass(frozen=True)
class ChunkedJob:
    """What one chunked product differs in from the others; `run` does the rest."""

    label: str  # prefix of the job's lines on stderr: "[score] implicit_ce:", "[generate]"
    spans: Sequence[Span]  # the chunk plan (chunks.plan_chunks): [start, stop) of each chunk, in product order
    keys: Sequence[str]  # one per chunk: what its inputs were; a stored chunk under another key is computed again
    store: Any  # where finished chunks wait (chunks.ChunkStore, or any object with its folder/load/save/clear)
    product: str  # what the chunks become (a path), named when a chunk is missing
    keep: bool = True  # False: one chunk that is the product itself, so nothing is read, saved, delayed or cleared
    clear: bool = True  # drop the stored chunks once the product is written (False: they are kept for reuse)
    bar: str = ""  # description of the progress bar over this process's chunks ("" shows none)
    unit: str = "problem"  # what the bar counts: "problem" (the spans' lengths) or "chunk"
    verb: str = "computed"  # "N chunks <verb> by K processes", "chunks [..] of <product> were not <verb>"
    announce_resume: bool = True  # say "resuming, k of n chunks already done" when stored chunks are found


def run(job: ChunkedJob, start: Callable[[], Callable[[Span], Any]], finish: Callable[[list], T], *,
        world=None, log: Callable[[str], None] | None = None) -> T | None:
    """Compute the job's missing chunks (this rank's share), then, on rank 0, `finish(values in chunk order)`
    (which merges and writes the product and returns it) and clear the store; other ranks return None.

    start(): called once, and only when this process has a chunk to compute (load a model there); returns
    compute(span) -> the chunk's value (JSON values). world: harness.core.distributed.World; None is one process
    (a job that is itself part of another rank's share, or that never runs under a launcher, passes none).
    """
    world = world or distributed.World()
    log = log or _stderr
    n = len(job.spans)
    values = _resume(job, log) if world.is_main and job.keep else {}
    todo = _agree(world, [i for i in range(n) if i not in values])
    computed = _compute(job, world.mine(todo), start)
    gathered = distributed.gather_json(computed) if world.active else [computed]
    if not world.is_main:
        return None
    for share in gathered:
        values.update({int(i): v for i, v in share.items()})
    if world.active and todo:
        log(f"{job.label} {len(todo)} chunks {job.verb} by {world.size} processes ("
            + ", ".join(f"rank {r}: {len(s)}" for r, s in enumerate(gathered)) + ")")
    missing = [i for i in range(n) if i not in values]
    if missing:  # cannot happen unless a rank lost work; never write a partial product
        raise RuntimeError(f"chunks {missing} of {job.product} were not {job.verb}")
    product = finish([values[i] for i in range(n)])
    if job.keep and job.clear:
        job.store.clear()
    return product


def _agree(world, value):
    """Rank 0's `value` on every rank."""
    if not world.active:
        return value
    return distributed.broadcast_json(value)


def _resume(job: ChunkedJob, log) -> dict[int, Any]:
    """The stored chunks that fit their keys (a damaged one is reported by the store and left out)."""
    found = {}
    for i, span in enumerate(job.spans):
        v = job.store.load(span, job.keys[i])
        if v is not None:
            found[i] = v
    if found and job.announce_resume:
        log(f"{job.label} resuming, {len(found)} of {len(job.spans)} chunks already done ({job.store.folder})")
    return found


def _compute(job: ChunkedJob, mine: list[int], start) -> dict[str, Any]:
    computed: dict[str, Any] = {}
    if not mine:
        return computed
    compute = start()
    delay = chunks.chunk_delay() if job.keep else 0.0
    count = (lambda a, b: 1) if job.unit == "chunk" else (lambda a, b: b - a)
    with progress.bar(sum(count(*job.spans[i]) for i in mine), job.bar, job.unit, enabled=bool(job.bar)) as bar:
        for i in mine:
            span = job.spans[i]
            value = json.loads(json.dumps(compute(span)))  # what a resumed run reads back: the same either way
            if job.keep:
                job.store.save(span, job.keys[i], value)
            computed[str(i)] = value
            bar.update(count(*span))
            if delay:
                time.sleep(delay)
    return computed


def once(path: str | os.PathLike, read: Callable[[], T | None], make: Callable[[], T]) -> T:
    """The entry at `path`: read() if it is there, else make() under the entry's lock. A run that waited for the
    lock reads the entry again only if another run replaced it meanwhile (so a damaged entry is reported once)."""
    found, seen = read(), cache.stamp(path)
    if found is not None:
        return found
    with chunks.locked(path):
        if cache.stamp(path) != seen:  # another run wrote it while we waited
            found = read()
        return found if found is not None else make()
