"""The step-level flow reads step scores against ProcessBench's labelled steps: a cut that gives other steps is refused;
its scorer has eurus_prm threshold the accumulated reward q_t there unless told otherwise."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from harness.core.errors import InputError
from harness.core.pool import Pool, Problem, Response
from harness.core.scores import ScoreSet
from harness.flow.step_level import labelled_step_scores


class Scorer:
    """Stands in for a reward model: `steps` is its option, `per_response` how many step scores it returns."""

    def __init__(self, steps, per_response):
        self.config, self.per_response = SimpleNamespace(steps=steps), per_response

    def score(self, pool):
        return ScoreSet("x", pool.content_hash(), [[[0.5] * n] for n in self.per_response])


def test_scores_of_the_labelled_steps_pass_and_other_cuts_are_refused_by_sample():
    pool = Pool([Problem("s1", "q", "", [Response("Step 1: a = 1\n\nStep 2: b = 2")]),
                 Problem("s2", "q", "", [Response("Step 1: a = 1\nso a = 1\n\nStep 2: b = 2\n\nStep 3: c")])])
    assert labelled_step_scores(Scorer("harness", [2, 3]), pool) == [[0.5] * 2, [0.5] * 3]
    with pytest.raises(InputError, match=r"field 'steps'.*steps=publisher cuts sample s2 into 5 steps, "
                                         r"ProcessBench labels 3.*steps=harness"):
        labelled_step_scores(Scorer("publisher", [2, 5]), pool)  # e.g. skywork_prm's one step per line


def test_eurus_prm_thresholds_the_accumulated_reward_on_processbench(tmp_path):
    from harness.flow.run import RunConfig
    from harness.flow.step_level import _scorer
    from tasks.processbench import ProcessBench
    rm, what = _scorer(RunConfig(rm="eurus_prm", task="processbench"), ProcessBench(), lambda m: None)
    assert rm.config.reward == "accumulative" and what["reward"] == "accumulative"
    rm, _ = _scorer(RunConfig(rm="eurus_prm", task="processbench", rm_options={"reward": "single"}), ProcessBench(),
                    lambda m: None)
    assert rm.config.reward == "single"  # an explicit choice wins
    rm, _ = _scorer(RunConfig(rm="implicitprm_release", task="processbench"), ProcessBench(), lambda m: None)
    assert rm.config.reward == "single"
