"""The chunked-job engine on its own (no model): an interrupted run resumes computing only the missing chunks and
ends equal to an uninterrupted one, a damaged chunk is computed again, a lost chunk stops the merge, ranks share the
chunks (simulated here by threads exchanging through a fake collective), and `once` computes an entry once."""

from __future__ import annotations

import threading
import time

import pytest

from harness.core import cache, chunks, distributed, jobs
from harness.core.distributed import World


def job(store_dir, n: int = 10, size: int = 3, **kw) -> jobs.ChunkedJob:
    spans = chunks.plan_chunks(n, size)
    return jobs.ChunkedJob(label="[test]", spans=spans, keys=[cache.stable_hash(["k", s]) for s in spans],
                           store=chunks.ChunkStore(store_dir), product="the product", **kw)


def squares(seen: list, fail_at: int | None = None):
    """start() of a job whose chunk (a, b) is [[i, i * i / 7, (i,)] ...]: floats and a tuple, which JSON changes."""
    def start():
        def compute(span):
            if fail_at is not None and len(seen) == fail_at:
                raise KeyboardInterrupt
            seen.append(span)
            return [[i, i * i / 7, (i,)] for i in range(*span)]
        return compute
    return start


def merge(written: list):
    def finish(values):
        product = [row for v in values for row in v]
        written.append(product)
        return product
    return finish


def test_uninterrupted_run_computes_every_chunk_merges_in_order_and_clears(tmp_path):
    seen, written = [], []
    product = jobs.run(job(tmp_path / "c"), squares(seen), merge(written))
    assert seen == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert product == written[0] == [[i, i * i / 7, [i]] for i in range(10)]  # the tuple came back as JSON reads it
    assert not (tmp_path / "c").exists()


def test_interrupted_run_resumes_the_missing_chunks_and_equals_an_uninterrupted_one(tmp_path):
    baseline = jobs.run(job(tmp_path / "one"), squares([]), merge([]))
    seen, written, lines = [], [], []
    with pytest.raises(KeyboardInterrupt):
        jobs.run(job(tmp_path / "c"), squares(seen, fail_at=2), merge(written))
    assert written == [] and sorted(p.name for p in (tmp_path / "c").glob("*.json")) == [
        "0000000-0000003.json", "0000003-0000006.json"]  # two finished chunks kept, no product
    seen.clear()
    resumed = jobs.run(job(tmp_path / "c"), squares(seen), merge(written), log=lines.append)
    assert seen == [(6, 9), (9, 10)]
    assert resumed == baseline
    assert lines == [f"[test] resuming, 2 of 4 chunks already done ({tmp_path / 'c'})"]
    assert not (tmp_path / "c").exists()


def test_a_damaged_chunk_or_one_of_another_key_is_computed_again(tmp_path, capsys):
    store = chunks.ChunkStore(tmp_path / "c")
    with pytest.raises(KeyboardInterrupt):
        jobs.run(job(store.folder), squares([], fail_at=3), merge([]))
    damaged = store.path((3, 6))
    data = damaged.read_bytes()
    at = data.index(b"2857")  # in 16 / 7 = 2.2857...: still JSON after the change, only the checksum can tell
    damaged.write_bytes(data[:at] + b"3" + data[at + 1:])
    other = job(store.folder)
    store.save((6, 9), "some other key", [[0, 0.0, [0]]] * 3)
    seen = []
    assert jobs.run(other, squares(seen), merge([])) == jobs.run(job(tmp_path / "one"), squares([]), merge([]))
    assert seen == [(3, 6), (6, 9), (9, 10)]
    assert f"corrupt cache entry {damaged}" in capsys.readouterr().err


def test_a_single_chunk_product_keeps_nothing_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CHUNK_DELAY", "5")  # would be slept after a kept chunk
    t = time.monotonic()
    seen = []
    assert jobs.run(job(tmp_path / "c", n=3, size=3, keep=False), squares(seen), merge([])) == [
        [i, i * i / 7, [i]] for i in range(3)]
    assert seen == [(0, 3)] and not (tmp_path / "c").exists() and time.monotonic() - t < 5


def test_nothing_to_compute_never_starts(tmp_path):
    jobs.run(job(tmp_path / "c"), squares([]), merge([]))
    started = []
    out = jobs.run(job(tmp_path / "c", n=0), lambda: started.append(1), merge([]))
    assert out == [] and started == []


class FakeGroup:
    """broadcast_json / gather_json for threads standing in for ranks: each call is one exchange of every rank's
    object, as the real collectives are."""

    def __init__(self, size: int):
        self.barrier, self.slots, self.local = threading.Barrier(size, timeout=20), [None] * size, threading.local()

    def exchange(self, obj):
        self.slots[self.local.rank] = obj
        self.barrier.wait()
        out = list(self.slots)
        self.barrier.wait()
        return out

    def broadcast_json(self, obj, src=0):
        return self.exchange(obj)[src]

    def gather_json(self, obj, dst=0):
        out = self.exchange(obj)
        return out if self.local.rank == dst else None


def run_ranks(monkeypatch, size: int, body) -> list:
    group = FakeGroup(size)
    monkeypatch.setattr(distributed, "broadcast_json", group.broadcast_json)
    monkeypatch.setattr(distributed, "gather_json", group.gather_json)
    results, errors = [None] * size, []

    def rank(r):
        group.local.rank = r
        try:
            results[r] = body(World(r, size))
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            errors.append(e)
            group.barrier.abort()
    threads = [threading.Thread(target=rank, args=(r,)) for r in range(size)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    if errors:
        raise errors[0]
    return results


def test_ranks_share_the_chunks_and_merge_what_one_process_merges(tmp_path, monkeypatch):
    baseline = jobs.run(job(tmp_path / "one"), squares([]), merge([]))
    # chunk 0 finished before an interruption: the other three are shared, rank 0 taking 1 and 3, rank 1 chunk 2
    chunks.ChunkStore(tmp_path / "c").save((0, 3), cache.stable_hash(["k", (0, 3)]), baseline[:3])
    seen, lines, written = {0: [], 1: []}, [], []
    results = run_ranks(monkeypatch, 2, lambda w: jobs.run(job(tmp_path / "c"), squares(seen[w.rank]),
                                                           merge(written), world=w, log=lines.append))
    assert seen == {0: [(3, 6), (9, 10)], 1: [(6, 9)]}
    assert results == [baseline, None] and len(written) == 1  # only rank 0 merges and writes
    assert lines == [f"[test] resuming, 1 of 4 chunks already done ({tmp_path / 'c'})",
                     "[test] 3 chunks computed by 2 processes (rank 0: 2, rank 1: 1)"]


def test_a_chunk_lost_by_a_rank_stops_the_merge(tmp_path, monkeypatch):
    group = FakeGroup(1)
    group.local.rank = 0
    monkeypatch.setattr(distributed, "broadcast_json", group.broadcast_json)
    monkeypatch.setattr(distributed, "gather_json", lambda obj, dst=0: [obj, {}])  # rank 1 sent nothing back
    written = []
    with pytest.raises(RuntimeError, match=r"chunks \[1, 3\] of the product were not computed"):
        jobs.run(job(tmp_path / "c"), squares([]), merge(written), world=World(0, 2))
    assert written == []  # no partial product
    assert (tmp_path / "c").is_dir()  # rank 0's chunks stay for the next run


def test_once_computes_an_entry_once_and_a_waiting_run_reuses_it(cache_root, capsys):
    path = cache_root / "entry.json"
    made = []

    def make():
        made.append(1)
        cache.write_json_checked(path, {"v": 1})
        return {"v": 1}

    def read():
        return cache.read_json_checked(path)
    result = {}
    with chunks.locked(path):
        waiter = threading.Thread(target=lambda: result.setdefault("v", jobs.once(path, read, make)))
        waiter.start()
        time.sleep(0.5)
        assert waiter.is_alive() and made == []  # waiting for the lock
        cache.write_json_checked(path, {"v": 1})  # what the lock holder computed
    waiter.join(30)
    assert result["v"] == {"v": 1} and made == []
    assert "waiting for another run that is writing" in capsys.readouterr().err
    assert jobs.once(cache_root / "other.json", lambda: None, lambda: "made") == "made"
