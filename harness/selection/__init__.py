"""Selection: best-of-n, weighted vote, majority vote and pass@n for every n, plus bootstrap confidence intervals.

Works on padded problem-level numpy arrays (harness.selection.arrays.pack); nothing here loads a model.
"""

from harness.selection.arrays import NO_GROUP, Batch, group_ids, pack
from harness.selection.bootstrap import bootstrap_ci, resample_counts
from harness.selection.methods import (
                                       ESTIMATORS,
                                       METHODS,
                                       USES_RM,
                                       as_scores,
                                       best_of_n,
                                       majority_vote,
                                       pass_at_n,
                                       votes,
                                       weighted_vote,
)
from harness.selection.voting import WEIGHTINGS, vote_weights

__all__ = ["NO_GROUP", "Batch", "group_ids", "pack", "bootstrap_ci", "resample_counts", "ESTIMATORS", "METHODS",
           "USES_RM", "as_scores", "best_of_n", "majority_vote", "pass_at_n", "votes", "weighted_vote", "WEIGHTINGS",
           "vote_weights"]
