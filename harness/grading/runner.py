"""Grade a whole pool: extract missing answers, verify each distinct (reference, answer) pair once, key answers.

Every distinct pair is looked up in the verdict cache first; only misses are computed, in worker processes with a
per-call deadline (workers >= 1) or in this process (workers = 0, for tests and tiny pools). A call past its
deadline counts as not equivalent (and its answer gets the plain-text key).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from harness.core import cache
from harness.core.pool import Pool, Response
from harness.core.progress import bar as progress_bar
from harness.grading.extract import extract_answer
from harness.grading.verdict_cache import MISS, TIMEOUT_HIT, VerdictCache
from harness.grading.verify import GRADER_VERSION, text_key
from harness.grading.workers import KILLED, OK, TIMEOUT, Task, WorkerPool, run_timed

_DEFAULT = object()
_COMMIT_EVERY = 200


def default_cache_path() -> Path:
    return cache.root() / "grading" / "verdicts.sqlite"


@dataclass
class GradingStats:
    problems: int = 0
    responses: int = 0
    extracted: int = 0          # answers this run extracted from response texts
    no_answer: int = 0          # responses with no answer at all (graded incorrect)
    distinct_pairs: int = 0     # distinct (reference, answer) pairs
    distinct_answers: int = 0   # distinct answers (vote keys)
    cache_hits: int = 0         # pairs + keys found in the verdict cache
    computed: int = 0           # pairs + keys computed by this run
    timeouts: int = 0           # computed calls past the deadline (soft or hard), plus cached timeouts
    workers_replaced: int = 0
    errors: int = 0             # calls whose worker died for another reason
    unparsable: list = field(default_factory=list)  # ids of problems whose reference does not parse
    correct: int = 0
    seconds: float = 0.0

    @property
    def accuracy(self) -> float:
        return self.correct / self.responses if self.responses else 0.0


def _compute(todo: list[tuple[int, Task]], workers: int, timeout: float, stats: GradingStats):
    """Yield (id, status, value) for every task."""
    if not todo:
        return
    if workers <= 0:
        for i, task in todo:
            status, value = run_timed(task, timeout)
            yield i, status, value
        return
    with WorkerPool(min(workers, len(todo)), timeout) as wp:
        try:
            yield from wp.run(todo)
        finally:
            stats.workers_replaced += wp.replaced


def grade_pool_with_stats(pool: Pool, *, workers: int = 1, timeout: float = 5.0,
                          extract_fallback_number: bool = False, cache_path=_DEFAULT,
                          progress: bool | None = None) -> tuple[Pool, GradingStats]:
    """A graded copy of `pool` (answer, correct, extra["answer_key"] on every response) and what it took.

    `cache_path`: default <cache root>/grading/verdicts.sqlite; None keeps no verdicts between runs.
    `progress`: None shows a bar on a terminal for runs with many calls to compute.
    """
    t0 = time.monotonic()
    stats = GradingStats(problems=len(pool.problems), responses=pool.n_responses)
    answers = _answers(pool, extract_fallback_number, stats)
    tasks = _tasks(pool, answers, stats)
    _resolve(tasks, default_cache_path() if cache_path is _DEFAULT else cache_path, workers, timeout, progress,
             stats)
    stats.unparsable = [p.id for p in pool.problems if tasks[("ref", p.reference, "")] is False]
    graded = _graded(pool, answers, tasks, stats)
    stats.seconds = time.monotonic() - t0
    return graded, stats


def _answers(pool: Pool, extract_fallback_number: bool, stats: GradingStats) -> list[list[str | None]]:
    """Every response's answer: its own, else the one extracted from its text (None: no answer)."""
    answers: list[list[str | None]] = []
    for p in pool.problems:
        row = []
        for r in p.responses:
            ans = r.answer
            if ans is None:
                ans = extract_answer(r.text, fallback_number=extract_fallback_number)
                stats.extracted += ans is not None
            stats.no_answer += ans is None
            row.append(ans)
        answers.append(row)
    return answers


def _tasks(pool: Pool, answers: list[list[str | None]], stats: GradingStats) -> dict[Task, object]:
    """The distinct calls to make, each still MISS: (reference, answer) equivalence, each answer's key, and
    whether each reference parses."""
    tasks: dict[Task, object] = {}
    for p, row in zip(pool.problems, answers):
        for ans in row:
            if ans is not None:
                tasks.setdefault(("eq", p.reference, ans), MISS)
                tasks.setdefault(("key", ans, ""), MISS)
    stats.distinct_pairs = sum(1 for t in tasks if t[0] == "eq")
    stats.distinct_answers = len(tasks) - stats.distinct_pairs
    for p in pool.problems:  # a reference that does not parse makes every response wrong: callers say so
        tasks.setdefault(("ref", p.reference, ""), MISS)
    return tasks


def _resolve(tasks: dict[Task, object], cache_path, workers: int, timeout: float, progress: bool | None,
             stats: GradingStats) -> None:
    """Fill in every task's value: from the verdict cache, else computed in worker processes (and cached)."""
    store = VerdictCache(cache_path)
    try:
        for task in tasks:
            hit = store.get(GRADER_VERSION, *task, timeout)
            if hit is not MISS:
                tasks[task] = hit
                stats.cache_hits += 1
                stats.timeouts += hit is TIMEOUT_HIT
        todo = [t for t, v in tasks.items() if v is MISS]
        ids = dict(enumerate(todo))
        # None: shown only for runs with many calls to compute
        show = len(todo) >= 500 if progress is None else progress
        bar = progress_bar(len(todo), "grading", "call", enabled=show)
        done: list = []
        try:
            for i, status, value in _compute(list(ids.items()), workers, timeout, stats):
                task = ids[i]
                stats.computed += 1
                bar.update(1)
                if status == OK:
                    tasks[task] = value
                    done.append((*task, value, None))
                elif status in (TIMEOUT, KILLED):
                    stats.timeouts += 1
                    tasks[task] = TIMEOUT_HIT
                    done.append((*task, None, timeout))
                else:  # ERROR: not cached, a later run tries again
                    stats.errors += 1
                    tasks[task] = TIMEOUT_HIT
                if len(done) >= _COMMIT_EVERY:
                    store.put_many(GRADER_VERSION, done)
                    done = []
        finally:
            if done:  # keep finished work even when interrupted
                store.put_many(GRADER_VERSION, done)
            bar.close()
    finally:
        store.close()


def _graded(pool: Pool, answers: list[list[str | None]], tasks: dict[Task, object], stats: GradingStats) -> Pool:
    """The pool with each response's answer, verdict and answer key."""
    problems = []
    for p, row in zip(pool.problems, answers):
        responses = []
        for r, ans in zip(p.responses, row):
            if ans is None:
                correct, key = False, None
            else:
                verdict = tasks[("eq", p.reference, ans)]
                correct = verdict is True
                key = tasks[("key", ans, "")]
                if key is TIMEOUT_HIT:
                    key = text_key(ans)
            stats.correct += correct
            responses.append(Response(r.text, ans, correct, {**r.extra, "answer_key": key}))
        problems.append(replace(p, responses=responses))
    return Pool(problems, pool.path)


def grade_pool(pool: Pool, *, workers: int = 1, timeout: float = 5.0, extract_fallback_number: bool = False,
               cache_path=_DEFAULT, progress: bool | None = None) -> Pool:
    """A graded copy of `pool`; see grade_pool_with_stats."""
    return grade_pool_with_stats(pool, workers=workers, timeout=timeout,
                                 extract_fallback_number=extract_fallback_number, cache_path=cache_path,
                                 progress=progress)[0]

