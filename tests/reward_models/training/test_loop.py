"""The training loop's ablation options (reward_models.training.loop), the paper's data subsets (Figures 4, 5) and no
reference at training (Table 5), and the checkpoint key that keeps the checkpoints of runs made before they existed."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
from _smoke_pool import smoke_pool

from harness.core.errors import InputError
from harness.core.pool import Pool, Problem, Response
from reward_models import get_rm
from reward_models.training.loop import LOOP_OPTIONS, TrainConfig, checkpoint_key, training_subset
from reward_models.training.step_tags import StepTagOptions


def test_response_subset_keeps_the_first_k_in_generation_order():
    pool = smoke_pool(problems=6, responses=8)
    sub = training_subset(pool, TrainConfig(responses_per_instruction=2))
    assert [p.id for p in sub.problems] == [p.id for p in pool.problems]
    for p, q in zip(pool.problems, sub.problems):
        assert [r.text for r in q.responses] == [r.text for r in p.responses[:2]]
    assert training_subset(pool, TrainConfig()) is pool


def test_instruction_subsets_are_nested_seeded_and_sized():
    pool = smoke_pool(problems=20, responses=2)
    ids = {f: [p.id for p in training_subset(pool, TrainConfig(instruction_fraction=f)).problems]
           for f in (0.25, 0.5, 0.75)}
    assert [len(v) for v in ids.values()] == [5, 10, 15]
    assert set(ids[0.25]) < set(ids[0.5]) < set(ids[0.75])
    order = [p.id for p in pool.problems]
    assert ids[0.5] == sorted(ids[0.5], key=order.index)  # the pool's order is kept
    other_seed = [p.id for p in training_subset(pool, TrainConfig(instruction_fraction=0.5, seed=1)).problems]
    assert other_seed != ids[0.5]


def test_the_loop_options_have_one_default_in_every_config_that_trains():
    # the implicit PRMs and ORMs (TrainConfig) and the step-tag PRMs (StepTagOptions) run one loop, fit_epochs; a
    # default set in one config and not the other would train the baselines under other settings unnoticed
    for cls in (TrainConfig, StepTagOptions):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        assert {name: fields[name].default for name in LOOP_OPTIONS} == {n: d for n, (d, _) in LOOP_OPTIONS.items()}
        assert all(fields[name].metadata["help"] for name in LOOP_OPTIONS)
    assert (TrainConfig().grad_clip, StepTagOptions().warmup_ratio, TrainConfig().lr) == (1.0, 0.1, 1e-4)


def test_checkpoint_key_ignores_late_fields_at_their_defaults(tmp_path):
    """A literal pins the key of a default config: the options added later (train_ref, the data subsets, head_at)
    enter the key only away from their defaults, so the checkpoints trained before they existed keep their keys. Any
    change to what the key hashes (its fields, the config's fields or defaults, the base's fingerprint, the pool's
    hashes, the prompt format) orphans every cached checkpoint and fails here; change the literal only on purpose."""
    base = tmp_path / "base"  # fingerprinted by its bytes: a config.json alone is enough, and never changes
    base.mkdir()
    (base / "config.json").write_text('{"architectures": ["LlamaForCausalLM"], "model_type": "llama"}\n')
    pool = Pool([Problem("q0", "Compute 2 + 3", "5", [Response("Step 1: 2 + 3 = 5\n\nThe answer is 5", "5", True),
                                                      Response("Step 1: 2 + 3 = 6\n\nThe answer is 6", "6", False)])])
    cfg = TrainConfig()
    assert checkpoint_key("implicit", cfg, str(base), pool) == "0637de2070a1cfe5"
    assert checkpoint_key("implicit", TrainConfig(train_ref=False), str(base), pool) != \
        checkpoint_key("implicit", cfg, str(base), pool)
    assert checkpoint_key("orm", TrainConfig(head_at="steps"), str(base), pool) != \
        checkpoint_key("orm", cfg, str(base), pool)


def test_training_without_reference_starts_from_log_likelihood(tiny_lm_dir, cache_root):
    """With the reference, r = 0 at the first step, so the CE loss is log 2; without it, r = beta * log pi(y) < 0."""
    base, pool = str(tiny_lm_dir("nano", 0)), smoke_pool(problems=4, responses=4)
    losses = {}
    for train_ref in (True, False):
        rm = get_rm("implicit_ce", lr=1e-3, batch_size=pool.n_responses, warmup_ratio=0.0, beta=0.05,
                    train_ref=train_ref, progress=False)
        ckpt = rm.fit(pool, base)
        losses[train_ref] = json.loads((ckpt / "metrics.json").read_text())["loss"][0]
        comp = json.loads((ckpt / "compute.json").read_text())
        assert (comp["reference_tokens"] > 0) == train_ref  # no reference pass is made or counted without it
    assert losses[True] == pytest.approx(math.log(2), abs=1e-6)
    assert losses[False] != pytest.approx(math.log(2), abs=1e-3)


def test_subset_training_counts_only_its_data(tiny_lm_dir, cache_root):
    base, pool = str(tiny_lm_dir("nano", 0)), smoke_pool(problems=8, responses=4)
    full = get_rm("implicit_ce", batch_size=4, progress=False).fit(pool, base)
    half = get_rm("implicit_ce", batch_size=4, instruction_fraction=0.5, responses_per_instruction=1,
                  progress=False).fit(pool, base)
    m_full, m_half = (json.loads((c / "metrics.json").read_text()) for c in (full, half))
    assert (m_full["train_responses"], m_half["train_responses"]) == (32, 4)
    c_full, c_half = (json.loads((c / "compute.json").read_text()) for c in (full, half))
    assert c_half["instructions"] == 4 and c_half["generated_tokens"] < c_full["generated_tokens"] / 4


@pytest.mark.parametrize("opts, field", [({"responses_per_instruction": "0"}, "responses_per_instruction"),
                                          ({"instruction_fraction": "1.5"}, "instruction_fraction"),
                                          ({"instruction_fraction": "0"}, "instruction_fraction")])
def test_bad_ablation_options_are_refused_before_training(tiny_lm_dir, cache_root, opts, field):
    rm = get_rm("implicit_ce", progress=False, **opts)
    with pytest.raises(InputError) as e:
        rm.fit(smoke_pool(problems=2, responses=2), str(tiny_lm_dir("nano", 0)))
    assert e.value.field == field
    assert not (cache_root / "checkpoints").exists() or not any((cache_root / "checkpoints").iterdir())


def test_orm_refuses_train_ref_false(tiny_lm_dir, cache_root):
    with pytest.raises(InputError, match="train_ref"):
        get_rm("orm", train_ref="false", progress=False).fit(smoke_pool(problems=2, responses=2),
                                                             str(tiny_lm_dir("nano", 0)))
