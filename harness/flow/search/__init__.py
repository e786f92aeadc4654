"""Reward-guided step-level search: partial solutions grown step by step and pruned by a reward model's score.

    guides.py      the score of a partial solution: q_t kept incrementally (implicit PRMs, loglik), or any reward
                   model re-scoring the prefixes
    stage.py       the cached, resumable search pools of a generator and the leaderboard rows they give
    experiment.py  `harness search`: search pools beside best-of-N of the same reward model

The decoding (forkable key/value caches, keyed draws, beam/DVTS/sampling) is harness.generation.search, which takes
a guide as an object; the report is harness.evaluation.search_report. The product of a search is an ordinary pool
(N finished responses a problem, each with its search metadata), so grading, scoring, selection and the leaderboard
treat it like any pool.
"""
