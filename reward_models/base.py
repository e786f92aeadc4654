"""The reward-model interface: `fit` (a cached checkpoint, a no-op when untrained) and two methods an adapter fills:
`scoring_identity()` (everything its scores depend on besides the pool) and `compute_scores(pool)` (step scores).

Caching, locks, resumable chunks and distributed ranks are harness.scoring's, for any reward model.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

from harness import scoring
from harness.core.options import make_config
from harness.core.scores import ScoreSet


@dataclasses.dataclass
class RMConfig:
    """Options every adapter accepts; adapters extend this."""


class RewardModel:
    name = "base"
    trainable = False
    chunkable = True  # compute_scores of a slice of a pool gives that slice's scores (see score_chunks)
    Config: type = RMConfig
    # Its row in the paper's comparison on the arith world: a number that orders the rows, or None for an adapter
    # that needs a checkpoint from elsewhere. harness.paper.recipes reads it, so an adapter with a row is a main
    # experiment of `tables`, a tox env and a row of results/leaderboard.md without an edit anywhere else.
    paper_row: float | None = None
    paper_note: str = ""  # what its run is, for tox's description
    # The step aggregation its publisher ranks responses by (harness.core.scores.AGGREGATIONS), where the publisher's
    # code or paper names one, and where it says so: `run` uses it when no --aggregation is given, `list --rm NAME`
    # shows it. None: the harness's default, min.
    publisher_aggregation: str | None = None
    aggregation_source: str = ""
    # True while compute_prefix_scores runs: an adapter whose scoring marks a response's end (an eos appended after
    # the text) leaves the mark out, so a partial solution is scored as a prefix, not as a finished response.
    as_prefix: bool = False

    def __init__(self, config: Any = None, **options: Any):
        """From options (strings as `--set` gives them, or values), or from options typed already by `options_of`
        (`config`; copied, since fit writes the checkpoint it made into the adapter's config)."""
        if config is not None and options:
            raise TypeError(f"{self.name}: give options or a typed config, not both")
        self.config = copy.deepcopy(config) if config is not None else self.options_of(options)

    @classmethod
    def options_of(cls, options: dict[str, Any]) -> Any:
        """The options typed by `Config` and checked by the adapter (`check_options`): the one place an adapter's
        options become values. A run types its options once (RunConfig.rm_config), which reports a bad one before
        anything is built, and builds its adapter from them."""
        config = make_config(cls.Config, options, cls.name)
        cls.check_options(config, options)
        return config

    @classmethod
    def check_options(cls, config: Any, given: dict[str, Any]) -> None:
        """The adapter's own checks of its typed options, and the values it fills in from them (a released
        model's default checkpoint); `given` holds the options as given, for a check of what was set at all."""

    # Subclasses implement these two -------------------------------------------------------------------------------
    def scoring_identity(self) -> dict[str, Any]:
        """Everything the scores depend on besides the pool (options, model fingerprints)."""
        raise NotImplementedError

    def compute_scores(self, pool) -> tuple[list[list[list[float]]], dict[str, Any]]:
        """Step scores of every response of `pool`, and meta to store with them."""
        raise NotImplementedError

    def compute_prefix_scores(self, pool) -> tuple[list[list[list[float]]], dict[str, Any]]:
        """Step scores of every response of `pool` read as an unfinished solution (what a guided search ranks a
        partial solution by): compute_scores with `as_prefix` set. The implicit PRMs and loglik then append no
        eos, so the sum of the step rewards is q_t of the prefix; an adapter that ignores the flag scores the
        prefix as it scores a response."""
        self.as_prefix = True
        try:
            return self.compute_scores(pool)
        finally:
            self.as_prefix = False

    # ---------------------------------------------------------------------------------------------------------------
    def fit(self, train_pool, base_model: str, val_pool=None) -> Path | None:
        return None  # untrained reward models have nothing to fit

    # What callers use; the cache, locks, chunks and ranks are harness.scoring's ---------------------------------------
    def score(self, pool) -> ScoreSet:
        """The cached score set of `pool` (harness.scoring.score_pool)."""
        return scoring.score_pool(self, pool)

    def score_key(self, pool) -> str:
        return scoring.score_key(self, pool)

    def score_path(self, pool) -> Path:
        return scoring.score_path(self, pool)
