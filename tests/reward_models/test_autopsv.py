"""AutoPSV: the relative-confidence labels, the step-level outcome verifier behind them, the process verifier."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _paths import REPO as REPO_ROOT
from test_math_shepherd import synthetic_pool

from harness.core.errors import InputError
from harness.core.steps import step_spans
from reward_models import get_rm
from reward_models.autopsv import sigmoid, step_labels

# --- stage 2: the formula -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("conf, labels", [
    ([0.5, 0.6, 0.2, 0.9], [True, False, False]),      # -67% at step 2; the rise after it does not undo the error
    ([0.8, 0.4], [True]),                              # exactly -50% is not below theta = -0.5
    ([0.8, 0.399], [False]),                           # just below it is
    ([0.9, 0.5, 0.3, 0.2], [True, True, True]),        # -44%, -40%, -33%: no single step halves the confidence
    ([0.0, 0.7, 0.9], [False, False]),                 # no confidence before step 1: the floor
    ([0.3, 0.3, 0.3], [True, True]),                   # flat
    ([0.9], []),                                       # no step, no label
])
def test_step_labels_follow_the_relative_change_formula(conf, labels):
    assert step_labels(conf) == labels


def test_a_response_whose_confidence_never_drops_is_all_positive_right_or_wrong():
    rng = np.random.default_rng(0)
    for _ in range(200):
        conf = np.sort(rng.uniform(1e-4, 1, size=rng.integers(2, 9))).tolist()
        assert all(step_labels(conf))
    assert step_labels([0.5, 0.2, 0.6], threshold=-0.7) == [True, True]  # theta is an option
    assert step_labels([0.5, 0.2, 0.6], threshold=-0.5) == [False, False]
    assert step_labels([0.0, 0.3], floor=0.0) == [False]  # no confidence to divide by, even with no floor
    with pytest.raises(InputError, match="threshold"):
        get_rm("autopsv", threshold=-1.5)


# --- stage 1: the step-level outcome verifier -----------------------------------------------------------------------

def _head_at_prefixes(model, head, enc, positions):
    """Brute force: one forward per prefix, the head read at that prefix's last token."""
    import torch
    out = []
    with torch.no_grad():
        for j in positions:
            hidden = model.base_model(input_ids=torch.tensor([enc.ids[:j + 1]])).last_hidden_state
            out.append(float(head(hidden[0, -1]).item()))
    return out


def test_step_values_equal_one_forward_per_prefix_in_any_batch(tiny_lm_dir):
    import torch

    from reward_models.lm.loading import load_causal_lm
    from reward_models.lm.logprobs import encode_pool
    from reward_models.training.value_head import (
        new_head,
        orm_step_values,
        step_end_positions,
    )
    model, tok = load_causal_lm(tiny_lm_dir("nano", 0))
    head = new_head(model, 3)
    torch.nn.init.normal_(head.weight, std=0.5)
    pool = synthetic_pool(1, 3)
    encs = encode_pool(tok, pool)
    brute = [_head_at_prefixes(model, head, e, step_end_positions(e)) for e in encs]
    for e, b in zip(encs, brute):
        assert len(b) == e.n_steps + 1 == 3  # before any step, then after each of the two
        assert e.ids[step_end_positions(e)[-1]] == tok.eos_token_id  # the last step ends at eos
    for batch_size in (1, 4, 32):
        got = orm_step_values(model, head, tok, pool, batch_size=batch_size, progress=False)
        assert np.allclose(np.concatenate(got), np.concatenate(brute), atol=1e-5)


def test_head_at_steps_trains_every_prefix_toward_the_outcome(tiny_lm_dir, cache_root):
    """The first loss of head_at=steps training is the brute-force BCE mean over each response's prefixes."""
    import torch
    import torch.nn.functional as F

    from harness.core import cache
    from reward_models.implicit import PolicyRatio
    from reward_models.lm.loading import load_causal_lm
    from reward_models.lm.logprobs import encode_pool
    from reward_models.orm import ValueHead
    from reward_models.training.loop import TrainConfig, train
    from reward_models.training.value_head import new_head, step_end_positions
    base = tiny_lm_dir("nano", 0)
    pool = synthetic_pool(1, 4)
    ckpt = train(ValueHead(), "osv", base, pool, TrainConfig(batch_size=64, head_at="steps"), progress=False)
    first = cache.read_json(ckpt / "metrics.json")["loss"][0]
    model, tok = load_causal_lm(base)
    head = new_head(model, 0)
    losses = []
    for e, r in zip(encode_pool(tok, pool), [r for p in pool.problems for r in p.responses]):
        v = torch.tensor(_head_at_prefixes(model, head, e, step_end_positions(e)))
        losses.append(float(F.binary_cross_entropy_with_logits(v, torch.full_like(v, float(r.correct)))))
    assert first == pytest.approx(sum(losses) / len(losses), abs=1e-5)
    with pytest.raises(InputError, match="head_at"):
        train(PolicyRatio(), "x", base, pool, TrainConfig(head_at="steps"), progress=False)
    with pytest.raises(InputError, match="head_at"):
        get_rm("orm", model=str(ckpt), head_at="step")
    # the ORM adapter scores such a checkpoint with one value per step
    ss = get_rm("orm", model=str(ckpt), head_at="steps", progress=False).score(pool)
    assert [len(s) for p in ss.step_scores for s in p] == [2] * 12


# --- the whole adapter ----------------------------------------------------------------------------------------------

def test_autopsv_labels_equal_the_formula_on_its_verifier_and_its_prm_ranks(tiny_lm_dir, cache_root, capsys):
    from harness.core import cache
    from harness.evaluation import leaderboard as lb
    from reward_models.lm.loading import load_causal_lm
    from reward_models.lm.logprobs import encode_pool
    from reward_models.training.value_head import load_head, step_end_positions
    base = str(tiny_lm_dir("nano", 0))
    train_pool, test = synthetic_pool(1, 6), synthetic_pool(2, 3)
    rm = get_rm("autopsv", osv_lr=3e-3, osv_epochs=20, osv_batch_size=6, lr=3e-3, epochs=20, batch_size=6,
                progress=False)
    ckpt = rm.fit(train_pool, base)
    record = cache.read_json(ckpt / "train_config.json")
    osv = record["osv"]
    assert "autopsv_osv-" in osv and cache.read_json(f"{osv}/train_config.json")["config"]["head_at"] == "steps"

    # the labels the PSV trained on are the formula's, applied to the OSV's confidences read one prefix at a time
    model, tok = load_causal_lm(osv)
    head = load_head(model, osv)
    expected = [step_labels([sigmoid(v) for v in _head_at_prefixes(model, head, e, step_end_positions(e))])
                for e in encode_pool(tok, train_pool)]
    conf = cache.read_json_checked(next((cache_root / "autopsv_confidences").glob("*.json")))
    got = [step_labels([sigmoid(v) for v in r]) for p in conf["values"] for r in p]
    assert got == expected
    flat = [h for steps in got for h in steps]
    assert 0 < sum(flat) < len(flat)  # both labels occur
    assert cache.read_json(ckpt / "metrics.json")["labels"]["positive_fraction"] == pytest.approx(
        sum(flat) / len(flat))

    # benchmarks/autopsv_labels.py reads the same labels back from the cache (theta = -0.5 is the fit's)
    import json
    import sys

    from harness.core.pool import save_pool
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    import autopsv_labels
    save_pool(train_pool, cache_root.parent / "train.jsonl")
    assert autopsv_labels.main(["--cache", str(cache_root), "--pool", str(cache_root.parent / "train.jsonl"),
                                "--thresholds=-0.5,-0.1"]) == 0
    result = json.loads(capsys.readouterr().out.splitlines()[-1][len("RESULT "):])
    at_theta, looser = result["thresholds"]
    assert at_theta["positive_fraction"] == pytest.approx(sum(flat) / len(flat))
    assert looser["positive_fraction"] <= at_theta["positive_fraction"]  # a looser threshold flags more steps
    cache.set_root(cache_root)

    # stage 3: one probability per step, and the leaderboard ranks with its min
    ss = rm.score(test)
    assert [len(s) for p in ss.step_scores for s in p] == [len(step_spans(r.text)) for p in test.problems
                                                          for r in p.responses]
    assert all(0 < s < 1 for p in ss.step_scores for r in p for s in r)
    opts = lb.Options(methods=("best_of_n",), aggregations=("min",), ns=[3], subsets="prefix", bootstrap=10)
    res = lb.evaluate_pool(test, [ss], opts, [3])
    row = next(r for r in lb.rows_of([res]) if r["rm"] == "autopsv")
    picked = [p.responses[int(np.argmax([min(s) for s in steps]))].correct
              for p, steps in zip(test.problems, ss.step_scores)]
    assert row["accuracy"] == pytest.approx(np.mean(picked))

    # development compute: OSV training + its labelling pass + PSV training, no sampling beyond the rollouts
    comp = cache.read_json(ckpt / "compute.json")
    osv_c, label_c, psv_c = comp["stages"]
    assert osv_c["kind"] == "orm_ce" and label_c["kind"] == "autopsv_labels" and psv_c["kind"] == "autopsv_psv"
    assert label_c["reference_tokens"] == sum(len(e.ids) for e in encode_pool(tok, train_pool))
    assert comp["generated_tokens"] == osv_c["generated_tokens"] > 0 and psv_c["generated_tokens"] == 0
    assert comp["total_flops"] == pytest.approx(math.fsum(s["total_flops"] for s in comp["stages"]))

    # every stage is cached: a second fit trains nothing and reads the same checkpoint
    import reward_models.training.loop as trainer
    calls = []
    real = trainer.optimizer_step
    trainer.optimizer_step = lambda *a, **k: calls.append(1) or real(*a, **k)
    try:
        again = get_rm("autopsv", osv_lr=3e-3, osv_epochs=20, osv_batch_size=6, lr=3e-3, epochs=20, batch_size=6,
                       progress=False).fit(train_pool, base)
    finally:
        trainer.optimizer_step = real
    assert again == ckpt and calls == []


def test_run_autopsv_on_the_smoke_world_prints_its_leaderboard(smoke_world, capsys, tmp_path):
    import shutil

    from harness.cli import main
    _, root, _ = smoke_world
    cache_dir = tmp_path / "cache"
    shutil.copytree(root, cache_dir)  # the session's smoke world stays read-only
    assert main(["--cache-dir", str(cache_dir), "run", "--rm", "autopsv", "--scale", "smoke", "--threads", "1",
                 "--set", "progress=false"]) == 0
    out = capsys.readouterr().out
    assert "autopsv  best_of_n" in out and "ROC AUC" in out
    assert main(["--cache-dir", str(cache_dir), "list"]) == 0
    listing = capsys.readouterr().out
    assert "autopsv-" in listing and "autopsv_osv-" in listing


def test_process_verifier_starts_from_the_outcome_verifiers_weights(tiny_lm_dir, cache_root, monkeypatch):
    """Stage 3 is continual training of the OSV (AutoPSV section 4.1; the authors' build_verifier_from_osv): the
    model handed to the step-tag training holds the OSV's trained weights, not the base model's."""
    from safetensors.torch import load_file

    from harness.core import cache
    from reward_models.training import step_tags
    base = str(tiny_lm_dir("nano", 0))
    seen = {}
    real = step_tags.fit_tagged

    def spy(c, model, *a, **k):
        seen.update({n: t.detach().clone() for n, t in model.state_dict().items()})
        return real(c, model, *a, **k)
    monkeypatch.setattr(step_tags, "fit_tagged", spy)
    ckpt = get_rm("autopsv", osv_lr=3e-3, osv_epochs=4, osv_batch_size=6, lr=3e-3, epochs=1, batch_size=6,
                  progress=False).fit(synthetic_pool(1, 6), base)
    osv = cache.read_json(ckpt / "train_config.json")["initialised_from"]
    trained, untrained = load_file(f"{osv}/model.safetensors"), load_file(f"{base}/model.safetensors")
    backbone = [n for n in trained if n.startswith("model.layers.")]
    assert backbone and set(trained) <= set(seen)
    for n in trained:
        assert (seen[n] == trained[n]).all(), n
    assert any(not (trained[n] == untrained[n]).all() for n in backbone)  # the OSV did move away from the base
