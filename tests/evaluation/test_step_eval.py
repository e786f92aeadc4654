"""The step-level evaluator (harness.evaluation.step_eval) on hand-made cases with known answers: the first step below
a threshold, the accuracies and F1, a tuned threshold carried unchanged to another split; and for --protocol paper on
ProcessBench, tune_sigmoid against a transcription of the ImplicitPRM authors' eval/processbench.py
`find_threshold_sigmoid`, on hand-made accumulated step rewards."""

from __future__ import annotations

import numpy as np
import pytest

from harness.evaluation import step_eval

# Three erroneous samples (earliest wrong step 1, 0, 2) and two correct ones.
LABELS = [1, 0, 2, -1, -1]
SCORES = [
    [0.9, 0.2, 0.8],   # first below 0.5: step 1 -> hit
    [0.3, 0.9],        # step 0 -> hit
    [0.9, 0.1, 0.1],   # step 1, label 2 -> miss (flags too early)
    [0.9, 0.8],        # -1 -> hit
    [0.6, 0.4],        # step 1 -> miss
]


def test_first_below_and_known_accuracies():
    assert step_eval.first_below([0.9, 0.2, 0.1], 0.5) == 1
    assert step_eval.first_below([0.9, 0.6], 0.5) == -1
    assert step_eval.first_below([0.5], 0.5) == -1  # strictly below
    r = step_eval.evaluate(LABELS, SCORES, 0.5)
    assert (r["n_error"], r["n_correct"]) == (3, 2)
    assert r["acc_error"] == pytest.approx(2 / 3)
    assert r["acc_correct"] == pytest.approx(1 / 2)
    assert r["f1"] == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))  # 4/7
    # A threshold below every score flags nothing: all correct samples right, all erroneous wrong -> F1 0.
    none = step_eval.evaluate(LABELS, SCORES, 0.0)
    assert (none["acc_error"], none["acc_correct"], none["f1"]) == (0.0, 1.0, 0.0)


def test_tuning_maximises_f1_and_the_threshold_transfers():
    tuned = step_eval.tune(LABELS, SCORES)
    # Between 0.4 and 0.6 sample 5 is missed; at 0.35 < t <= 0.4 every sample is right except sample 3
    # (scores 0.1 flag step 1): acc_error 2/3, acc_correct 1 -> F1 0.8, the best any threshold can do here.
    assert tuned["f1"] == pytest.approx(0.8)
    assert 0.3 < tuned["threshold"] <= 0.4
    other_labels, other_scores = [0, -1], [[0.1], [0.2]]
    out = step_eval.evaluate_splits({"a": (LABELS, SCORES), "b": (other_labels, other_scores)}, tune_on="a",
                                    resamples=200)
    assert out["tuned_on"] == "a" and out["threshold"] == tuned["threshold"]
    assert out["splits"]["a"]["in_sample"] and not out["splits"]["b"]["in_sample"]
    b = out["splits"]["b"]
    assert b["threshold"] == tuned["threshold"]  # applied unchanged, not re-tuned
    assert (b["acc_error"], b["acc_correct"]) == (1.0, 0.0)  # 0.1 and 0.2 are both below the threshold
    assert b["oracle_f1"] == pytest.approx(0.0) or b["oracle_f1"] >= b["f1"]
    lo, hi = out["splits"]["a"]["f1_ci"]
    assert 0.0 <= lo <= 0.8 <= hi <= 1.0


def sigmoid(x):  # processbench.py
    return 1.0 / (1.0 + np.exp(-x))


def find_threshold_sigmoid(data, num_thresholds=10000):  # processbench.py, verbatim but for the docstring
    for d in data:
        d['sigmoid_scores'] = [sigmoid(s) for s in d['reward']]
    thresholds = np.linspace(0, 1, num_thresholds)
    best_threshold = None
    best_f1 = 0.0
    for t in thresholds:
        for d in data:
            pred_step = -1
            for i, sc in enumerate(d['sigmoid_scores']):
                if sc < t:
                    pred_step = i
                    break
            d['match'] = (d['label'] == pred_step)
        correct_data = [x for x in data if x['label'] == -1]
        error_data = [x for x in data if x['label'] != -1]
        if len(correct_data) == 0 or len(error_data) == 0:
            continue
        acc_1 = sum(x['match'] for x in correct_data) / len(correct_data)
        acc_2 = sum(x['match'] for x in error_data) / len(error_data)
        if (acc_1 + acc_2) > 0:
            f1_metric = 2.0 * acc_1 * acc_2 / (acc_1 + acc_2)
        else:
            f1_metric = 0.0
        if f1_metric > best_f1:
            best_f1 = f1_metric
            best_threshold = t
    return best_threshold, best_f1


def accumulated(step_rewards):
    return np.cumsum(step_rewards).tolist()


# Accumulated q_t of a coefficient-0.005 implicit PRM: small numbers around 0, many near-equal sigmoids.
SAMPLES = [([0.01, -0.02, 0.03], -1), ([0.004, 0.001, -0.03, 0.02], 2), ([-0.05, 0.01], 0), ([0.02, 0.02], -1),
           ([0.002, -0.001, -0.0005], 1), ([0.03, -0.04, 0.01, 0.0], 1), ([0.0, 0.0], -1), ([0.06, 0.05], 0),
           ([-0.01, -0.012, 0.3], 2), ([0.011, 0.02, 0.03], -1)]


@pytest.mark.parametrize("num", [1000, 10000])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tune_sigmoid_equals_find_threshold_sigmoid(num, seed):
    rng = np.random.default_rng(seed)
    samples = SAMPLES if seed == 0 else [(rng.normal(0, 0.03, size=int(rng.integers(1, 6))).tolist(), None)
                                        for _ in range(30)]
    samples = [(s, lab if lab is not None else int(rng.integers(-1, len(s)))) for s, lab in samples]
    data = [{"reward": s, "label": lab} for s, lab in samples]
    want_t, want_f1 = find_threshold_sigmoid(data, num)
    labels = [lab for _, lab in samples]
    got = step_eval.tune_sigmoid(labels, step_eval.sigmoid_scores([s for s, _ in samples]), num)
    assert want_t is not None and got["threshold"] == want_t and got["f1"] == pytest.approx(want_f1, abs=1e-12)
    assert [step_eval.first_below(d["sigmoid_scores"], got["threshold"]) for d in data] == \
        [step_eval.first_below(s, got["threshold"]) for s in step_eval.sigmoid_scores([s for s, _ in samples])]


def test_accumulated_and_single_rewards_flag_different_steps():
    """The reason the preset thresholds q_t: on the hand-made set the two step rewards give other predictions."""
    labels = [lab for _, lab in SAMPLES]
    singles = [list(np.diff(s, prepend=0.0)) for s, _ in SAMPLES]
    a = step_eval.tune_sigmoid(labels, step_eval.sigmoid_scores([s for s, _ in SAMPLES]))
    b = step_eval.tune_sigmoid(labels, step_eval.sigmoid_scores(singles))
    assert (a["f1"], a["threshold"]) != (b["f1"], b["threshold"])
