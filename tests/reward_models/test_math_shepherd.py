"""Math-Shepherd: MC step labels (hard/soft, cached, resumable), a PRM trained on them, the step-KTO second stage."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.core.errors import InputError
from harness.core.pool import Pool, Problem, Response
from reward_models import get_rm
from reward_models.math_shepherd import mc_setup
from reward_models.training import mc_labels as mc
from tasks import get_task

META = {"task": "arith", "temperature": 0.5}
TWO_STEPS = "Step 1: {a}\n\nStep 2: {b}\n\nThe answer is {ans}"


def hand_pool() -> Pool:
    return Pool([
        Problem("p0", "Compute 3 * 4 + 2", "14", [
            Response(TWO_STEPS.format(a="3 * 4 = 12", b="12 + 2 = 14", ans=14), "14", True),
            Response(TWO_STEPS.format(a="3 * 4 = 11", b="11 + 2 = 13", ans=13), "13", False)], dict(META)),
        Problem("p1", "Compute 7 * 8 - 6", "50", [
            Response(TWO_STEPS.format(a="7 * 8 = 56", b="56 - 6 = 50", ans=50), "50", True),
            Response("The answer is 50", "50", True)], dict(META)),
    ])


# Hand-made rollouts: K = 4 completions of each step prefix.
ROLLOUTS = {
    "Step 1: 3 * 4 = 12\n\n": ["Step 2: 12 + 2 = 14\n\nThe answer is 14", "Step 2: 12 + 2 = 15\n\nThe answer is 15",
                               "Step 2: 12 + 2 = 14\n\nThe answer is 14", "Step 2: 12 +"],
    "Step 1: 3 * 4 = 11\n\n": ["Step 2: 11 + 2 = 13\n\nThe answer is 13"] * 4,
    "Step 1: 7 * 8 = 56\n\n": ["Step 2: 56 - 6 = 50\n\nThe answer is 50"] + ["The answer is 49"] * 3,
}


class HandSampler:
    def __init__(self, fail_on: str | None = None):
        self.calls, self.fail_on = [], fail_on

    def __call__(self, problems, prefixes, k, seed, stats):
        self.calls.append((list(problems), seed))
        if self.fail_on in problems:
            raise KeyboardInterrupt  # an interrupted run
        outs = [ROLLOUTS[p][:k] for p in prefixes]
        stats["generated_tokens"] += sum(len(c) + 1 for o in outs for c in o)  # char tokens + eos
        return outs


def label(pool, sampler, **kw):
    return mc.mc_label_pool(pool, sampler, get_task("arith").is_correct, identity={"policy": "hand"}, k=4, chunk_problems=1,
                            progress=False, **kw)


def test_rollouts_are_graded_by_the_pools_task():
    """The arith world's pools: arith's exact grader (the name keys the label cache, as before: "arith"); pools of no
    task: MATH's grader ("math"), which reads a boxed fraction the arith grader cannot."""
    arith = Pool([Problem("a", "q", "15", [Response("The answer is 15")], {"task": "arith"})])
    name, grader = mc.pool_grader(arith)
    assert name == "arith" and grader("Step 1: 7 + 8 = 15\n\nThe answer is 015", "15")
    assert not grader("So the answer is 15\n\nTerer: 1", "15")
    name, grader = mc.pool_grader(Pool([Problem("m", "q", "\\frac{1}{2}", [Response("x")])]))
    assert name == "math" and grader("so \\boxed{0.5}", "\\frac{1}{2}") and not grader("so \\boxed{2}", "\\frac{1}{2}")


def test_hard_and_soft_labels_of_hand_made_rollouts(cache_root):
    assert mc.labels_from_outcomes([False, False, True, False]) == (True, 0.25)
    assert mc.labels_from_outcomes([False] * 8) == (False, 0.0)
    assert mc.step_prefixes(hand_pool().problems[0].responses[0].text) == ["Step 1: 3 * 4 = 12\n\n"]
    assert mc.step_prefixes("The answer is 50") == []  # one step: nothing to roll out
    labels = label(hand_pool(), HandSampler())
    assert labels.hard == [[[True, True], [False, False]], [[True, True], [True]]]
    assert labels.soft == [[[0.5, 1.0], [0.0, 0.0]], [[0.25, 1.0], [1.0]]]
    assert labels.n_correct == [[[2, 1], [0, 0]], [[1, 1], [1]]]
    assert labels.k == [[[4, 0], [4, 0]], [[4, 0], [0]]]  # the last step is the response's own outcome
    assert labels.meta["rollouts"] == 12
    assert labels.generated_tokens == sum(len(c) + 1 for o in ROLLOUTS.values() for c in o)


def test_labels_are_cached_and_an_interrupted_run_resumes(cache_root, tmp_path):
    from harness.core import cache
    pool = hand_pool()
    with pytest.raises(KeyboardInterrupt):
        label(pool, HandSampler(fail_on="Compute 7 * 8 - 6"))
    files = list((cache_root / "mc_labels").glob("*.chunks/*.json"))
    assert len(files) == 1  # problem p0 finished and was kept
    sampler = HandSampler()
    resumed = label(pool, sampler)
    assert [c[0][0] for c in sampler.calls] == ["Compute 7 * 8 - 6"]  # only the missing chunk was sampled
    assert not list((cache_root / "mc_labels").glob("*.chunks"))  # chunks are folded into one file
    with cache.using(tmp_path / "other"):
        one_shot = label(pool, HandSampler())
    assert (resumed.hard, resumed.soft, resumed.generated_tokens) == (one_shot.hard, one_shot.soft,
                                                                      one_shot.generated_tokens)
    again = HandSampler()
    assert label(pool, again).soft == resumed.soft and again.calls == []
    # every chunk draws from its own seed, so the split of work cannot change the samples
    assert [seed for _, seed in sampler.calls] == [1]
    # a different K or seed is a different product
    assert label(pool, HandSampler(), seed=1).meta["key"] != resumed.meta["key"]
    path = next((cache_root / "mc_labels").glob(f"{resumed.meta['key']}.jsonl"))
    assert json.loads(path.read_text().splitlines()[1])["responses"][0]["soft"] == [0.5, 1.0]


def test_labelling_refuses_ungraded_pools_and_mismatched_files(cache_root):
    pool = hand_pool()
    pool.problems[0].responses[0].correct = None
    with pytest.raises(InputError, match="graded"):
        label(pool, HandSampler())
    labels = label(hand_pool(), HandSampler())
    path = cache_root / "mc_labels" / f"{labels.meta['key']}.jsonl"
    other = Pool(hand_pool().problems[:1])
    with pytest.raises(InputError, match="other problems"):
        mc.read_labels(path, other)


# --- a PRM trained from a perfect labeller --------------------------------------------------------------------------

def synthetic_pool(seed: int, count: int) -> Pool:
    """Two-step problems; a wrong step writes 99 (so a tiny model can learn the pattern), and it propagates."""
    from tasks.arith.problems import generate_problems
    probs = [p for p in generate_problems(seed, 200, 2, 2)
             if "9" not in p.expression + " ".join(p.steps) + str(p.answer)][:count]
    out = []
    for p in probs:
        a, b = p.steps
        b_after_99 = b.split(" = ")[0].replace(a.split(" = ")[1], "99", 1) + " = 99"
        out.append(Problem(p.id, p.problem, str(p.answer), [
            Response(TWO_STEPS.format(a=a, b=b, ans=p.answer), str(p.answer), True),
            Response(TWO_STEPS.format(a=a.split(" = ")[0] + " = 99", b=b_after_99, ans=99), "99", False),
            Response(TWO_STEPS.format(a=a, b=b.split(" = ")[0] + " = 99", ans=99), "99", False)], dict(META)))
    return Pool(out)


def fill_labels(config, pool, base):
    """Label `pool` with a perfect labeller under exactly the cache key that fit() will look up.

    The perfect labeller is the ideal policy: it finishes correctly from a right prefix and never recovers from a
    wrong one, so a step's hard label is "the response is right up to here"."""
    setup = mc_setup(config, pool, base)
    refs = {p.problem: p.reference for p in pool.problems}

    def sampler(problems, prefixes, k, seed, stats):
        outs = [[f"The answer is {99 if '99' in pre else refs[q]}"] * k for q, pre in zip(problems, prefixes)]
        stats["generated_tokens"] += sum(len(c) + 1 for o in outs for c in o)
        return outs
    return setup, mc.mc_label_pool(setup.pool, sampler, setup.grader, identity=setup.identity, k=config.k,
                                   seed=config.mc_seed, chunk_problems=config.chunk_problems, progress=False)


def test_a_perfect_labellers_prm_ranks_as_expected(tiny_lm_dir, cache_root):
    from harness.core import cache
    base = str(tiny_lm_dir("nano", 0))
    train, test = synthetic_pool(1, 6), synthetic_pool(2, 3)
    rm = get_rm("math_shepherd", k=2, lr=3e-3, epochs=40, batch_size=6, warmup_ratio=0.05, progress=False)
    setup, labels = fill_labels(rm.config, train, base)
    assert labels.hard[0] == [[True, True], [False, False], [True, False]]  # exactly "is the prefix right so far"
    ckpt = rm.fit(train, base)
    record = cache.read_json(ckpt / "train_config.json")
    assert record["mc_labels"] == setup.key and record["format"]["step_tag"] == "@"
    assert cache.read_json(ckpt / "metrics.json")["mc_labels"]["agreement_with_first_error"] is None
    scores = rm.score(test)
    for steps in scores.step_scores:
        right, wrong1, wrong2 = steps
        assert min(right) > 0.5 > max(wrong1)         # all tags of a wrong-from-the-start response say '-'
        assert wrong2[0] > 0.5 > wrong2[1]            # the step before the error '+', the error '-'
    best = [int(np.argmax(a)) for a in scores.aggregate("min")]
    assert best == [0, 0, 0]
    # the checkpoint is an ordinary causal LM that hf_prm scores identically
    again = get_rm("hf_prm", model=str(ckpt), progress=False).compute_scores(test)[0]
    assert np.allclose([s for p in again for r in p for s in r],
                       [s for p in scores.step_scores for r in p for s in r])
    comp = cache.read_json(ckpt / "compute.json")
    assert comp["mc_generated_tokens"] == labels.generated_tokens > 0
    assert comp["generated_tokens"] == comp["rollout_tokens"] + comp["mc_generated_tokens"]


def test_second_stage_step_kto_moves_prefix_rewards_toward_the_labels(tiny_lm_dir, cache_root):
    import torch

    from harness.core import cache
    from reward_models.implicit_stage2 import prefix_rewards
    from reward_models.lm.loading import load_causal_lm
    from reward_models.lm.logp_cache import cached_step_logps
    from reward_models.lm.logprobs import encode_pool
    base = str(tiny_lm_dir("nano", 0))
    train = synthetic_pool(1, 4)
    rm = get_rm("implicit_ce_stage2", k=2, lr=1e-3, epochs=2, batch_size=4, stage2_lr=3e-3, stage2_epochs=10,
                progress=False)
    _, labels = fill_labels(rm.config, train, base)
    ckpt = rm.fit(train, base)
    stage1 = cache.read_json(ckpt / "train_config.json")["stage1"]
    assert "implicit_ce-" in stage1  # stage 1 is exactly implicit_ce's cached checkpoint

    def margin(path):
        model, tok = load_causal_lm(path)
        encs = encode_pool(tok, train)
        ref = cached_step_logps(base, train, progress=False)
        ref_prefix = torch.cat([torch.from_numpy(np.cumsum(s)) for p in ref for s in p])
        with torch.no_grad():
            q = prefix_rewards(model, encs, ref_prefix, rm.config.beta, tok.pad_token_id).numpy()
        d = np.array([h for p in labels.hard for r in p for h in r])
        return q[d].mean() - q[~d].mean()
    assert margin(ckpt) > margin(stage1) + 0.01
    comp = cache.read_json(ckpt / "compute.json")
    s1, s2 = comp["stages"]
    assert s1["kind"] == "implicit_ce" and s2["kind"] == "implicit_stage2"
    assert comp["total_flops"] == pytest.approx(s1["total_flops"] + s2["total_flops"])
    assert s2["generated_tokens"] == labels.generated_tokens
    ss = rm.score(train)
    assert [len(s) for p in ss.step_scores for s in p] == [2] * 12


@pytest.mark.slow
def test_run_math_shepherd_on_the_smoke_world_prints_its_leaderboard(tmp_path, capsys):
    from harness.cli import main
    assert main(["--cache-dir", str(tmp_path / "cache"), "run", "--rm", "math_shepherd", "--scale", "smoke",
                 "--threads", "1", "--set", "max_instructions=4", "--set", "progress=false"]) == 0
    out = capsys.readouterr().out
    assert "math_shepherd  best_of_n" in out and "ROC AUC" in out
    assert main(["--cache-dir", str(tmp_path / "cache"), "list"]) == 0
    assert "math_shepherd-" in capsys.readouterr().out


def test_soft_targets_give_the_cross_entropy_over_the_two_label_logits_at_the_tags(tiny_lm_dir, cache_root):
    import torch

    from harness.core import cache
    from reward_models.lm.loading import load_causal_lm
    from reward_models.lm.tagged import (
        encode_pool_tagged,
        label_token_ids,
        resolve_format,
    )
    base = str(tiny_lm_dir("nano", 0))
    pool = hand_pool()
    rm = get_rm("math_shepherd", k=4, target="soft", batch_size=16, progress=False)
    setup = mc_setup(rm.config, pool, base)
    labels = mc.mc_label_pool(setup.pool, HandSampler(), setup.grader, identity=setup.identity, k=4,
                              seed=rm.config.mc_seed, chunk_problems=rm.config.chunk_problems, progress=False)
    ckpt = rm.fit(pool, base)
    first_loss = cache.read_json(ckpt / "metrics.json")["loss"][0]  # one batch holds every response
    model, tok = load_causal_lm(base)
    good, bad = label_token_ids(tok, "+", "-")
    losses = []
    for enc, soft in zip(encode_pool_tagged(tok, pool, resolve_format(ckpt)),
                         [s for p in labels.soft for s in p]):
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([enc.ids])).logits[0][enc.tag_pos][:, [good, bad]], -1)
        losses += [-(t * lp[0] + (1 - t) * lp[1]).item() for t, lp in zip(soft, logp)]
    assert len(losses) == 7 and first_loss == pytest.approx(sum(losses) / len(losses), abs=1e-5)
    hard = get_rm("math_shepherd", k=4, batch_size=16, progress=False)
    assert mc_setup(hard.config, pool, base).key == setup.key  # the labels are shared; the checkpoints are not
    hard_ckpt = hard.fit(pool, base)
    assert hard_ckpt != ckpt and cache.read_json(hard_ckpt / "train_config.json")["config"]["target"] == "hard"
