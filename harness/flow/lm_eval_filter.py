"""Reward-model selection inside lm-evaluation-harness: the `reward_rerank` filter (and `keep_all`).

lm-eval's filters offer majority vote and take-first; `reward_rerank` chooses among a document's `repeats`
generations with any reward model registered here:

    filter_list:
      - name: best_of_n
        filter:
          - function: reward_rerank
            rm: implicit_ce                 # any name of `python -m harness list`
            mode: best_of_n                 # best_of_n | weighted_vote | majority_vote
            aggregation: min                # step aggregation (min, sum, mean, last, prod)
            rm_options: {model: PATH, ref: PATH}
          - function: take_first

or, from Python, `import harness.flow.lm_eval_filter` (registers the names) and the same keys in a task dict. The
documents and their generations become a pool (ids from the doc's `id`, else its position; the problem from
`problem`, else `question`); its scores go through the harness cache keyed by that pool's content, so a second
lm-eval run, or `harness run --pool` on the pool `generate --backend lm-eval` wrote, reads them instead of scoring
again. Votes group answers by the harness's answer keys (the doc's `task` picks the extractor: arith's, else the
MATH/GSM8K one); weighted vote sums sigmoid(aggregated score), as `harness leaderboard` does.

Limits: lm-eval keeps one filtered response per document, so a filter returns the chosen generation (for a vote:
the first generation with the winning answer), and metrics are computed on it; best-of-N over n < repeats needs
take_first_k before this filter (the first n, the paper's code's estimator, not the harness's expectation over
random n-subsets); ties go to the first generation.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections import defaultdict

from lm_eval.api.filter import Filter
from lm_eval.api.registry import register_filter

from harness.core.errors import InputError
from harness.generation.lm_eval_backend import pool_of
from reward_models import REWARD_MODELS, get_rm
from tasks import TASKS, get_task

MODES = ("best_of_n", "weighted_vote", "majority_vote")


@register_filter("keep_all")
class KeepAll(Filter):
    """Every generation of a document, in order (lm-eval's default pipeline keeps only the first)."""

    def apply(self, resps, docs):
        return [list(r) for r in resps]


def resolve_option(value):
    """'arith:NAME' -> the shipped arith world's generator NAME (weak, mid, strong); anything else unchanged."""
    if isinstance(value, str) and value.startswith("arith:"):
        return str(TASKS.get("arith").generator_path(value.split(":", 1)[1]))
    return value


@functools.lru_cache(maxsize=None)
def _task(name: str):
    return get_task(name)


def task_of(doc):
    """The harness task whose grader reads this document's generations (its `task` field; MATH's by default)."""
    return _task(doc.get("task") or "math500")


def answer_key_of(doc, text: str) -> str | None:
    """The vote key of a generation: its answer as the doc's task reads it (arith's extractor, else MATH's)."""
    task = task_of(doc)
    ans = task.extract_answer(text)
    return None if ans is None else task.answer_key(ans)


def choose(mode: str, texts: list[str], scores: list[float], keys: list[str | None]) -> int:
    """Index of the chosen generation (the first on ties)."""
    if mode == "best_of_n":
        return max(range(len(texts)), key=lambda j: (scores[j], -j))
    weight: dict[str, float] = defaultdict(float)
    first: dict[str, int] = {}
    for j, k in enumerate(keys):
        if k is None or (mode == "weighted_vote" and not math.isfinite(scores[j])):
            continue  # no answer, or (as in harness.selection.voting) a response scored -inf casts no vote
        weight[k] += 1.0 if mode == "majority_vote" else 0.5 * (1.0 + math.tanh(0.5 * scores[j]))  # no overflow
        first.setdefault(k, j)
    if not weight:
        return 0
    best = max(weight, key=lambda k: (weight[k], -first[k]))
    return first[best]


@register_filter("reward_rerank")
class RewardRerank(Filter):
    def __init__(self, rm: str, mode: str = "best_of_n", aggregation: str = "min", rm_options: dict | None = None,
                 **kwargs) -> None:
        if mode not in MODES:
            raise InputError(f"unknown mode '{mode}'", field="reward_rerank.mode", expected=" | ".join(MODES))
        self.rm, self.mode, self.aggregation = rm, mode, aggregation
        self.options = {k: resolve_option(v) for k, v in (rm_options or {}).items()}
        super().__init__(**kwargs)

    def apply(self, resps, docs):
        resps = [list(r) for r in resps]
        pool = pool_of(docs, resps)
        quiet = {"progress": False} if "progress" in {f.name for f in dataclasses.fields(
            REWARD_MODELS.get(self.rm).Config)} else {}
        ss = get_rm(self.rm, **{**quiet, **self.options}).score(pool)
        scores = ss.aggregate(self.aggregation)
        out = []
        for doc, gens, sc in zip(docs, resps, scores):
            keys = [answer_key_of(doc, g) for g in gens] if self.mode != "best_of_n" else [None] * len(gens)
            out.append([gens[choose(self.mode, gens, [float(x) for x in sc], keys)]])
        return out
