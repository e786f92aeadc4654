"""Beam search, DVTS and sampling over partial solutions (harness.generation.search.tree) on the shipped arith
generators: the identities the search issue names (beam search or DVTS that keeps every chain is plain sampling; a
perfect step scorer makes beam search at least as accurate as best-of-N) and bad settings refused by name."""

from __future__ import annotations

import numpy as np
import pytest
from _frozen_world import frozen_world, untrained_implicit

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def world():
    return frozen_world()


@pytest.mark.parametrize("method", ["beam", "dvts"])
def test_search_that_keeps_every_chain_is_sampling(world, method):
    """Beam search with N beams and one expansion each (M = 1), and DVTS with N one-chain subtrees, write exactly
    the N responses plain sampling writes with the same seed."""
    from harness.flow.search.guides import make_guide
    from harness.generation.search.tree import SearchConfig, search_batch
    gens, pool, _ = world
    model, tok = gens["mid"]
    problems = pool.problems[:6]
    sampled, _ = search_batch(model, tok, problems, SearchConfig(method="sample", n=6, seed=3))
    guide = make_guide(untrained_implicit(world), tok)
    searched, _ = search_batch(model, tok, problems, SearchConfig(method=method, n=6, expand=1, seed=3),
                               guide=guide)
    for a, b in zip(sampled, searched):
        assert sorted(tuple(c.tokens) for c in a) == sorted(tuple(c.tokens) for c in b)
        assert len(b) == 6
    other, _ = search_batch(model, tok, problems, SearchConfig(method="sample", n=6, seed=4))
    assert [tuple(c.tokens) for c in other[0]] != [tuple(c.tokens) for c in sampled[0]]


class PerfectStepScorer:
    """Knows the reference: 1 while every step so far is a correct next step (and a final answer is right), else
    0. A hand-made reward model for the search's re-scoring guide."""

    name = "perfect"

    def __init__(self, trees):
        self.trees = trees

    def compute_scores(self, pool):
        from harness.core.steps import split_steps
        from tasks.arith.grammar import first_error_step
        from tasks.arith.problems import extract_answer, is_correct
        out = []
        for p in pool.problems:
            row = []
            for r in p.responses:
                err = first_error_step(r.text, self.trees[p.id])
                ok = err is None or err == len(split_steps(r.text)) + 1
                if extract_answer(r.text) is not None:
                    ok = ok and is_correct(r.text, p.reference)
                row.append([1.0 if ok else 0.0])
            out.append(row)
        return out, {}


def test_beam_search_with_a_perfect_step_scorer_is_at_least_best_of_n(world):
    from harness.core.pool import Pool, Problem, Response
    from harness.flow.search.guides import RescoreGuide
    from harness.generation.search.tree import SearchConfig, search_batch
    from tasks.arith.problems import generate_problems, is_correct
    gens, pool, _ = world
    model, tok = gens["weak"]
    problems = pool.problems[:24]
    trees = {p.id: p.tree for p in generate_problems(0, 24, 2, 5, prefix="test/")}
    assert all(trees[p.id].render() == p.problem.removeprefix("Compute ") for p in problems)
    scorer = PerfectStepScorer(trees)
    guide = RescoreGuide(scorer, "last")

    def accuracy(done):
        """Best-of-N by the same perfect scorer on the finished solutions, ties broken uniformly (in
        expectation): a lucky right answer after a wrong step scores 0, as it does under any step scorer."""
        out = []
        for p, chains in zip(problems, done):
            texts = [tok.decode(c.text_tokens()) for c in chains]
            s = np.array([row[0] for row in scorer.compute_scores(
                Pool([Problem(p.id, p.problem, p.reference, [Response(t) for t in texts])]))[0][0]])
            top = s == s.max()
            out.append(np.mean([is_correct(t, p.reference) for t, keep in zip(texts, top) if keep]))
        return float(np.mean(out))

    gains = []
    for n in (1, 2, 4, 8):
        sampled, _ = search_batch(model, tok, problems, SearchConfig(method="sample", n=n, seed=0))
        beam, _ = search_batch(model, tok, problems, SearchConfig(method="beam", n=n, expand=2, seed=0),
                               guide=guide)
        assert accuracy(beam) >= accuracy(sampled), n
        gains.append(accuracy(beam) - accuracy(sampled))
    assert max(gains) > 0  # the weak generator's pass@8 is far from 1: pruning wrong steps must show


def test_bad_search_settings_get_one_clear_error():
    from harness.core.errors import InputError
    from harness.generation.search.tree import SearchConfig
    with pytest.raises(InputError, match="divisible"):
        SearchConfig(method="dvts", n=6, expand=4).validate()
    with pytest.raises(InputError, match="unknown search method"):
        SearchConfig(method="mcts").validate()
