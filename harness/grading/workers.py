"""Grading calls in worker processes, each with a hard per-call deadline; a worker past it is killed and replaced.

Why processes: math-verify's and our own timeouts are SIGALRM based, so they work only on a process's main thread
and cannot stop C code (a big-integer power) at all. Each worker runs one call at a time under the soft deadline
(harness.grading.deadline); the parent kills a worker that has not answered `grace` seconds after that, records the
call as timed out, and starts a fresh worker, so a run never hangs on one answer.

Workers come from a forkserver that has already imported sympy and math-verify, so a replacement starts in
milliseconds (spawn where forkserver does not exist). Messages are JSON over a pipe. As with any multiprocessing
code, a script that grades with workers needs the `if __name__ == "__main__":` guard (`python -m harness` has it).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import multiprocessing.connection
import signal
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from harness.grading import verify  # looked up at call time so tests can count calls
from harness.grading.deadline import DeadlineExceeded, deadline

# A task is ("eq", reference, answer) -> bool, ("key", answer, "") -> str | None, or ("ref", reference, "") -> bool
# (does the reference parse).
Task = tuple[str, str, str]
OK, TIMEOUT, KILLED, ERROR = "ok", "timeout", "killed", "error"


def evaluate(task: Task) -> Any:
    kind, a, b = task
    if kind == "eq":
        return verify.is_equivalent(a, b)
    if kind == "key":
        return verify.answer_key(a)
    if kind == "ref":
        return verify.reference_parses(a)
    raise ValueError(f"unknown grading task {kind!r}")


def run_timed(task: Task, timeout: float | None) -> tuple[str, Any]:
    """(status, value) of one task under the soft deadline, in this process."""
    try:
        with deadline(timeout):
            return OK, evaluate(task)
    except DeadlineExceeded:
        return TIMEOUT, None


def _worker_main(conn, timeout: float | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it then stops us
    while True:
        try:
            msg = json.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        if msg is None:
            return
        i, task = msg
        try:
            status, value = run_timed(tuple(task), timeout)
        except Exception as e:  # evaluate() catches everything itself; this is a last resort
            status, value = ERROR, repr(e)
        conn.send_bytes(json.dumps([i, status, value]).encode())


@dataclass
class _Slot:
    proc: Any
    conn: Any
    job: tuple[int, float] | None = None  # (task id, start time) while busy


class WorkerPool:
    def __init__(self, workers: int, timeout: float, grace: float | None = None, start_method: str | None = None):
        """`grace`: seconds past `timeout` before a silent worker is killed (default max(1, timeout)).
        `start_method`: multiprocessing start method (default forkserver, else spawn)."""
        if workers < 1:
            raise ValueError("WorkerPool needs at least one worker")
        methods = mp.get_all_start_methods()
        self._ctx = mp.get_context(start_method or ("forkserver" if "forkserver" in methods else "spawn"))
        if self._ctx.get_start_method() == "forkserver":
            self._ctx.set_forkserver_preload(["harness.grading.verify"])
        self.timeout = timeout
        self.hard_timeout = timeout + (grace if grace is not None else max(1.0, timeout))
        self.replaced = 0
        self._slots = [self._start() for _ in range(workers)]

    def _start(self) -> _Slot:
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(target=_worker_main, args=(child, self.timeout), daemon=True,
                                 name="harness-grader")
        proc.start()
        child.close()
        return _Slot(proc, parent)

    def _replace(self, slot: _Slot) -> None:
        if slot.proc.is_alive():
            slot.proc.kill()
        slot.proc.join(5)
        slot.conn.close()
        fresh = self._start()
        slot.proc, slot.conn, slot.job = fresh.proc, fresh.conn, None
        self.replaced += 1

    def run(self, tasks: Iterable[tuple[int, Task]]) -> Iterator[tuple[int, str, Any]]:
        """Yield (id, status, value) for every (id, task), in completion order."""
        pending = deque(tasks)
        while pending or any(s.job for s in self._slots):
            for slot in self._slots:
                if slot.job is None and pending:
                    i, task = pending.popleft()
                    msg = json.dumps([i, list(task)]).encode()
                    try:
                        slot.conn.send_bytes(msg)
                    except OSError:  # the idle worker died (killed from outside): replace it and resend
                        self._replace(slot)
                        slot.conn.send_bytes(msg)
                    slot.job = (i, time.monotonic())
            busy = [s for s in self._slots if s.job]
            now = time.monotonic()
            wait_for = max(0.0, min(s.job[1] + self.hard_timeout - now for s in busy))
            ready = multiprocessing.connection.wait([s.conn for s in busy], timeout=wait_for)
            for slot in busy:
                if slot.conn in ready:
                    i = slot.job[0]
                    try:
                        j, status, value = json.loads(slot.conn.recv_bytes())
                    except (EOFError, OSError):  # the worker died (crash, out of memory): not our answer
                        self._replace(slot)
                        yield i, ERROR, None
                        continue
                    slot.job = None
                    yield j, status, value
                elif time.monotonic() - slot.job[1] > self.hard_timeout:
                    i = slot.job[0]
                    self._replace(slot)
                    yield i, KILLED, None

    def close(self) -> None:
        for slot in self._slots:
            try:
                slot.conn.send_bytes(b"null")
            except OSError:
                pass
        for slot in self._slots:
            slot.proc.join(1)
            if slot.proc.is_alive():
                slot.proc.kill()
                slot.proc.join(1)
            slot.conn.close()

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
