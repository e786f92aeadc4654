"""Grading: extract each response's final answer, decide whether it equals the reference, key it for voting.

    extract.extract_answer(text)        -> "14/3" | None
    verify.is_equivalent(ref, answer)   -> bool (math-verify first, safe arithmetic fallback; never raises)
    verify.answer_key(answer)           -> "n:14/3" (equal answers share a key) | None
    runner.grade_pool(pool)             -> graded Pool (verdicts cached in sqlite, worker processes with deadlines)
"""

from harness.grading.extract import extract_answer, find_answer
from harness.grading.runner import (
           GradingStats,
           default_cache_path,
           grade_pool,
           grade_pool_with_stats,
)
from harness.grading.verify import GRADER_VERSION, answer_key, is_equivalent

__all__ = ["GRADER_VERSION", "GradingStats", "answer_key", "default_cache_path", "extract_answer", "find_answer",
           "grade_pool", "grade_pool_with_stats", "is_equivalent"]
