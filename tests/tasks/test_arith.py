"""The embedded arith world: problems, exact grader, tokenizer and a smoke-scale build (its sampler, the fast decoder
and harness.generation.sampling, is tested in tests/generation/)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from harness.core.steps import split_steps
from tasks.arith.problems import (
    Node,
    arithmetic_errors,
    extract_answer,
    first_error_step,
    generate_problems,
    is_correct,
    solution_steps,
)


def test_hand_worked_problem():
    # (17 + 25) * 3 - 8 = 118, evaluated bottom-up, left to right
    tree = Node("-", 118, Node("*", 126, Node("+", 42, Node(None, 17), Node(None, 25)), Node(None, 3)), Node(None, 8))
    assert tree.render() == "(17 + 25) * 3 - 8"
    assert solution_steps(tree) == ["17 + 25 = 42", "42 * 3 = 126", "126 - 8 = 118"]


def test_right_operand_of_equal_precedence_is_bracketed():
    tree = Node("-", 7, Node(None, 10), Node("-", 3, Node(None, 5), Node(None, 2)))
    assert tree.render() == "10 - (5 - 2)"
    assert eval(tree.render()) == 7


@pytest.mark.parametrize("text,ref,ok", [
    ("Step 1: 2 + 3 = 5\n\nThe answer is 5", 5, True),
    ("Step 1: 2 + 3 = 6\n\nThe answer is 6", 5, False),
    ("Step 1: 2 + 3 = 5\n\nThe answer is 5 or 6", 5, False),   # anything after the number is not an answer
    ("Step 1: 2 + 3 = 5", 5, False),                            # no final answer
    ("The answer is 05", 5, True),                              # integer equality, not string equality
    ("Step 1: 3 + 2 is 5\n\nAnswer: 5", 5, True),                # any of the grammar's forms
    ("", 5, False),
])
def test_exact_grader(text, ref, ok):
    assert is_correct(text, ref) is ok


def test_every_reference_solution_grades_correct_and_matches_eval():
    for p in generate_problems(3, 2000):
        assert is_correct(p.solution, p.answer)
        assert first_error_step(p.solution, p.tree) is None
        assert arithmetic_errors(p.solution) == []
        assert eval(p.expression) == p.answer  # exact division makes / agree with Python's true division
        assert len(split_steps(p.solution)) == len(p.steps)


def test_error_position_of_a_propagated_mistake():
    p = generate_problems(5, 50)[0]
    steps = list(p.steps)
    a, rest = steps[0].split(" = ")
    steps[0] = f"{a} = {int(rest) + 1}"  # a wrong intermediate result
    from tasks.arith.problems import format_solution
    text = format_solution(steps, p.answer + 1)
    assert first_error_step(text, p.tree) == 1
    assert arithmetic_errors(text) == [1]
    assert not is_correct(text, p.answer)


def test_splits_are_disjoint_and_seeded():
    from tasks.arith.world_config import splits, world_config
    cfg = world_config("smoke", 0)
    sp = splits(cfg)
    exprs = [{p.expression for p in v} for v in sp.values()]
    assert sum(map(len, exprs)) == len(set().union(*exprs))
    assert [p.expression for p in splits(cfg)["test"]] == [p.expression for p in sp["test"]]
    other = splits(world_config("smoke", 1))["test"]
    assert [p.expression for p in other] != [p.expression for p in sp["test"]]


def test_tokenizer_round_trip(tmp_path):
    from transformers import AutoTokenizer

    from harness.core.prompting import build_prompt
    from tasks.arith.tokenizer import build_tokenizer
    tok = build_tokenizer()
    text = generate_problems(0, 1)[0].solution
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    assert tok.decode(enc["input_ids"]) == text
    assert enc["offset_mapping"] == [(i, i + 1) for i in range(len(text))]  # one token per character
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again(text, add_special_tokens=False)["input_ids"] == enc["input_ids"]
    assert build_prompt(again, "Compute 1 + 2") == build_prompt(tok, "Compute 1 + 2") == \
        "<|user|>Compute 1 + 2\n<|assistant|>"


def test_smoke_world_builds_graded_pools(smoke_world):
    from harness.core import cache
    from harness.core.pool import load_pool
    from tasks.arith.world_config import GENERATORS, pool_path
    cfg, root, summary = smoke_world
    assert set(summary["generators"]) == set(GENERATORS)
    with cache.using(root):
        for g in GENERATORS:
            pool = load_pool(pool_path(cfg, "test", g))
            assert len(pool) == cfg.n_test and all(len(p.responses) == cfg.samples_per_test for p in pool)
            assert pool.is_graded()
            for p in pool:
                for r in p.responses:
                    assert r.correct == is_correct(r.text, p.reference)
                    assert r.answer == extract_answer(r.text)
                    assert len(split_steps(r.text)) >= 1  # a sample always parses into steps
        rm = load_pool(pool_path(cfg, "rm_train", "mid"))
        assert len(rm) == cfg.n_rm_train and all(len(p.responses) == cfg.rollouts_per_rm for p in rm)


def test_smoke_world_is_deterministic(smoke_world, tmp_path):
    """Same seed, same machine: byte-identical pools, rebuilt from scratch in a fresh cache."""
    from harness.core import cache
    from tasks.arith.world import build_world
    from tasks.arith.world_config import pool_path
    cfg, root, _ = smoke_world
    with cache.using(root):
        first = pool_path(cfg, "test", "mid").read_bytes()
    with cache.using(tmp_path):
        build_world(cfg, log=lambda m: None)
        assert pool_path(cfg, "test", "mid").read_bytes() == first


def test_sampling_in_worker_processes_writes_the_same_pools(smoke_world, tmp_path):
    """threads=2 samples the pools' chunks in two single-thread processes (one queue over all pools); the pools
    are the bytes the one-process build wrote, and the build says how it sampled."""
    from harness.core import cache
    from tasks.arith.world import build_world
    from tasks.arith.world_config import world_pool_paths
    cfg, root, _ = smoke_world
    with cache.using(root):
        one = [p.read_bytes() for p in world_pool_paths(cfg)]
    logs = []
    with cache.using(tmp_path):
        summary = build_world(dataclasses.replace(cfg, threads=2), log=logs.append)
        assert [p.read_bytes() for p in world_pool_paths(cfg)] == one
    assert "[generate] 5 chunks to sample in 2 processes x 1 thread" in logs
    assert "sample_in_workers_s" in summary["timings"]


def test_generator_training_stops_once_past_the_highest_target():
    from tasks.arith.world import _past_targets
    top = 0.632
    assert not _past_targets([0.1, 0.36], top)               # still below
    assert not _past_targets([0.36, 0.65], top)              # just above: the closest so far
    assert not _past_targets([0.36, 0.65, 0.67], top)        # within the margin
    assert _past_targets([0.36, 0.65, 0.70], top)            # above by 6.8 points, and 0.65 was closer
    assert not _past_targets([0.36, 0.45, 0.70], top)        # 0.70 is the closest so far: keep it, go on


def test_training_stops_where_on_eval_says_and_keeps_the_full_runs_schedule():
    from tasks.arith.model import make_model
    from tasks.arith.problems import generate_problems
    from tasks.arith.tokenizer import build_tokenizer
    from tasks.arith.train_generator import GeneratorTrainConfig, train_generator
    tok = build_tokenizer()
    probs = generate_problems(0, 40, 2, 3)
    cfg = GeneratorTrainConfig(steps=12, batch_size=4, warmup_steps=2, eval_every=2)

    def run(stop_at):
        model, seen = make_model(tok, "nano", seed=1), []

        def on_eval(step, m):
            seen.append((step, {k: v.clone() for k, v in m.state_dict().items()}))
            return step == stop_at
        train_generator(model, tok, probs, cfg, on_eval=on_eval)
        return seen
    full, stopped = run(None), run(6)
    assert [s for s, _ in stopped] == [2, 4, 6] and [s for s, _ in full] == [2, 4, 6, 8, 10, 12]
    for (_, a), (_, b) in zip(stopped, full):
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_bisection_between_evaluated_checkpoints_closes_in_on_the_target():
    from tasks.arith.world import _bisect_target
    truth = {s: s / 1000 for s in range(0, 1001, 5)}  # pass@1 rising 0.5 points a step
    acc = {s: truth[s] for s in range(0, 1001, 25)}
    asked = []

    def evaluate(step):
        asked.append(step)
        return truth[step]
    _bisect_target(acc, 0.446, sorted(truth), evaluate)
    assert acc[445] == 0.445 and acc[450] == 0.45 and len(asked) <= 3  # neighbours around the target on the grid
    before = dict(acc)
    _bisect_target(acc, 2.0, sorted(truth), evaluate)  # nothing straddles it: nothing evaluated
    assert acc == before
