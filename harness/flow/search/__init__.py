"""Reward-guided step-level search: partial solutions grown step by step and pruned by a reward model's score.

    rows.py     key/value caches of a batch of partial solutions for one Llama model, extended and forked
    draws.py    counter-based random draws: a chain's tokens depend on its seed and lineage, not on its batch
    guides.py   the score of a partial solution: q_t kept incrementally (implicit PRMs, loglik), or any reward
                model re-scoring the prefixes
    tree.py     beam search, DVTS and plain sampling over a batch of problems
    stage.py    the cached, resumable search pools of a generator and the leaderboard rows they give
    report.py   results/search.md and its plot

The product of a search is an ordinary pool (N finished responses a problem, each with its search metadata), so
grading, scoring, selection and the leaderboard treat it like any pool.
"""
