"""Reward-guided search (harness/generation/search, harness/flow/search): the decoder's forkable caches, the keyed
draws, the identities the issue names (beam search that keeps every chain is sampling; incremental q_t is the
implicit PRM's step rewards; a perfect step scorer makes beam search at least as accurate as best-of-N), caching,
resuming and the command."""

from __future__ import annotations

import numpy as np
import pytest

from tasks import get_task

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def world():
    """The shipped arith world's generators and test problems (weak, mid, strong; the same files on every clone)."""
    from harness.core.pool import load_pool
    from tasks.arith import frozen
    from tasks.arith.world_sampling import load_generator
    gens = {g: load_generator(frozen.generator_path(g)) for g in ("weak", "mid", "strong")}
    pool = load_pool(frozen.pool_path("test-weak"))
    return gens, pool, {g: frozen.generator_path(g) for g in gens}


def _implicit(world, **options):
    """An implicit PRM scored without training: policy = strong generator, reference = mid (same tokenizer)."""
    from reward_models import get_rm
    _, _, paths = world
    return get_rm("implicit_ce", model=str(paths["strong"]), ref=str(paths["mid"]), progress=False, **options)


def test_row_cache_blocks_holes_and_forks_equal_one_forward(world):
    """Extending rows by ragged blocks (holes in the cache), forking rows between blocks, equals one plain forward
    of each row's tokens."""
    from harness.generation.fast_decode import LlamaDecoder
    from harness.generation.search.rows import RowCache, pad_block
    model, _ = world[0]["mid"]
    dec = LlamaDecoder(model)
    g = torch.Generator().manual_seed(0)
    rows = [torch.randint(10, 90, (n,), generator=g).tolist() for n in (7, 12, 3)]
    more = [torch.randint(10, 90, (n,), generator=g).tolist() for n in (0, 5, 9, 2)]
    with torch.inference_mode():
        c = RowCache(dec, 3, capacity=8)  # small: the cache must grow
        c.extend(*pad_block(rows))
        c = c.select(torch.tensor([0, 1, 1, 2]))  # row 1 forked
        x = c.extend(*pad_block(more))
        for r, (base, extra) in enumerate(zip([rows[0], rows[1], rows[1], rows[2]], more)):
            seq = base + extra
            ref = model.model(input_ids=torch.tensor([seq])).last_hidden_state[0]
            if extra:
                assert torch.allclose(x[r, :len(extra)], ref[len(base):], atol=1e-5)
            assert torch.allclose(model.lm_head(c.last[r]), model.lm_head(ref[-1]), atol=1e-4)


def test_keyed_draws_follow_the_distribution_and_do_not_depend_on_the_batch():
    from harness.generation.search.draws import child_key, sample_tokens, uniforms
    keys = np.arange(20000, dtype=np.uint64) * np.uint64(7919)
    u = uniforms(keys, np.zeros(20000, dtype=np.int64))
    assert 0 < u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.01
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0]).repeat(20000, 1)
    tok = sample_tokens(logits, 0.5, keys, np.zeros(20000, dtype=np.int64))
    freq = np.bincount(tok.numpy(), minlength=4) / 20000
    assert np.allclose(freq, torch.softmax(logits[0] / 0.5, -1).numpy(), atol=0.01)
    # a row's draw is the same whatever rows share its batch
    part = sample_tokens(logits[:10], 0.5, keys[5:15], np.zeros(10, dtype=np.int64))
    assert torch.equal(part, tok[5:15])
    assert child_key(123, 2, 0) == 123 and child_key(123, 2, 1) != child_key(123, 3, 1) != 123


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
    guide = make_guide(_implicit(world), tok)
    searched, _ = search_batch(model, tok, problems, SearchConfig(method=method, n=6, expand=1, seed=3),
                               guide=guide)
    for a, b in zip(sampled, searched):
        assert sorted(tuple(c.tokens) for c in a) == sorted(tuple(c.tokens) for c in b)
        assert len(b) == 6
    other, _ = search_batch(model, tok, problems, SearchConfig(method="sample", n=6, seed=4))
    assert [tuple(c.tokens) for c in other[0]] != [tuple(c.tokens) for c in sampled[0]]


def test_incremental_q_is_the_running_sum_of_the_implicit_prms_step_rewards(world):
    """q_t kept from the key/value caches after each search step equals the cumulative step rewards of the
    finished response under the implicit PRM's ordinary scoring, at every step end the two share, to 1e-5."""
    from harness.core.pool import Pool, Problem, Response
    from harness.core.steps import step_spans
    from harness.flow.search.guides import IncrementalGuide, make_guide
    from harness.generation.search.tree import SearchConfig, search_batch
    gens, pool, _ = world
    model, tok = gens["weak"]
    rm = _implicit(world)  # beta 0.05: the raw log-ratio sums of two float32 implementations differ by ~3e-5
    guide = make_guide(rm, tok)
    assert isinstance(guide, IncrementalGuide)
    problems = pool.problems[:5]
    done, stats = search_batch(model, tok, problems, SearchConfig(method="beam", n=8, expand=4, seed=1),
                               guide=guide)
    finished = Pool([Problem(p.id, p.problem, p.reference,
                             [Response(tok.decode(c.text_tokens())) for c in chains if not c.truncated])
                     for p, chains in zip(problems, done)])
    steps, _ = rm.compute_scores(finished)
    compared = 0
    for p, chains, rows in zip(finished.problems, done, steps):
        chains = [c for c in chains if not c.truncated]
        for r, c, rewards in zip(p.responses, chains, rows):
            ends = {b: q for b, q in zip(np.cumsum([0] + [b - a for a, b in step_spans(r.text)])[1:],
                                         np.cumsum(rewards))}
            seen = [len(tok.decode(c.tokens[:e], skip_special_tokens=True)) for e in c.ends]
            for at, q in zip(seen, c.scores):
                if at in ends:
                    assert q == pytest.approx(ends[at], abs=1e-5)
                    compared += 1
            assert c.scores[-1] == pytest.approx(float(np.sum(rewards)), abs=1e-5)  # the outcome reward
    assert compared > 5 * 8
    assert all(s["guide_tokens"] > s["generated_tokens"] for s in stats)


def test_rescoring_guide_scores_a_prefix_as_a_prefix_equal_to_the_incremental_q(world):
    """The re-scoring guide (any adapter, each prefix re-scored) reads an implicit PRM's prefix without an appended
    eos, so with "sum" it ranks by the incremental guide's q_t: the same search, step scores equal to 1e-5. Scoring
    the unfinished prefixes as finished responses (eos appended) gives other numbers."""
    from harness.core.pool import Pool, Problem, Response
    from harness.flow.search.guides import RescoreGuide, make_guide
    from harness.generation.search.tree import SearchConfig, search_batch
    gens, pool, _ = world
    model, tok = gens["mid"]
    rm = _implicit(world)
    problems = pool.problems[:3]
    cfg = SearchConfig(method="beam", n=4, expand=2, seed=2)
    inc, _ = search_batch(model, tok, problems, cfg, guide=make_guide(rm, tok))
    res, _ = search_batch(model, tok, problems, cfg, guide=RescoreGuide(rm, "sum"))
    compared, unfinished = 0, []
    for p, a, b in zip(problems, inc, res):
        assert [c.tokens for c in a] == [c.tokens for c in b]  # the same search
        mine = []
        for x, y in zip(a, b):
            assert x.scores == pytest.approx(y.scores, abs=1e-5)
            compared += len(x.scores)
            mine += [(tok.decode(x.tokens[:e], skip_special_tokens=True), q) for e, q in zip(x.ends[:-1], x.scores)]
        unfinished.append((p, mine))
    assert compared > 3 * 4 * 2 and all(m for _, m in unfinished)
    # the same prefixes scored as finished responses (eos appended): other numbers than q_t
    as_finished, _ = rm.compute_scores(Pool([Problem(p.id, p.problem, p.reference, [Response(t) for t, _ in m])
                                             for p, m in unfinished]))
    gaps = [abs(float(np.sum(s)) - q) for rows, (_, m) in zip(as_finished, unfinished) for s, (_, q) in zip(rows, m)]
    assert min(gaps) > 1e-3  # every unfinished prefix: an appended eos ranks by something else


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


def test_search_pool_is_cached_resumes_and_carries_its_metadata(world, cache_root, monkeypatch):
    from harness.flow.search import stage
    from harness.flow.search.guides import make_guide
    from harness.generation.search.tree import SearchConfig
    gens, pool, paths = world
    model, tok = gens["mid"]
    rm = _implicit(world)
    guide = make_guide(rm, tok)
    cfg = SearchConfig(method="beam", n=4, expand=2)
    monkeypatch.setattr(stage, "ROWS", 8)  # two problems a chunk
    real, calls = stage.search_batch, []

    def failing(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(stage, "search_batch", failing)
    problems = pool.problems[:6]
    with pytest.raises(KeyboardInterrupt):
        stage.search_pool(paths["mid"], problems, cfg, rm=rm, guide=guide, task=get_task("arith"),
                          model=(model, tok))
    monkeypatch.setattr(stage, "search_batch", real)
    calls.clear()
    monkeypatch.setattr(stage, "search_batch", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    out = stage.search_pool(paths["mid"], problems, cfg, rm=rm, guide=guide, task=get_task("arith"),
                            model=(model, tok))
    assert len(calls) == 1  # the two finished chunks were read back
    assert [len(p.responses) for p in out.problems] == [4] * 6 and out.is_graded()
    r = out.problems[0].responses[0]
    assert r.extra["search"]["ends"][-1] == len(r.text) and len(r.extra["search"]["scores"]) == len(
        r.extra["search"]["ends"])
    assert out.problems[0].meta["search"]["method"] == "beam"
    # the score set came from the search's own passes, and is the reward model's ordinary scoring
    ss = rm.score(out)
    assert ss.meta["source"].startswith("search")
    ordinary, _ = rm.compute_scores(out)
    flat = lambda rows: np.concatenate([np.asarray(s, dtype=float) for p in rows for s in p])  # noqa: E731
    assert [[len(s) for s in p] for p in ss.step_scores] == [[len(s) for s in p] for p in ordinary]
    assert np.allclose(flat(ss.step_scores), flat(ordinary), atol=1e-5)
    calls.clear()
    again = stage.search_pool(paths["mid"], problems, cfg, rm=rm, guide=guide, model=(model, tok))
    assert calls == [] and again.content_hash() == out.content_hash()
    # one chunk at a time or all at once: the same pool
    monkeypatch.setattr(stage, "ROWS", 3200)
    cache_root_2 = cache_root.parent / "other"
    from harness.core import cache
    with cache.using(cache_root_2):
        whole = stage.search_pool(paths["mid"], problems, cfg, rm=rm, guide=guide, task=get_task("arith"),
                                  model=(model, tok))
    assert whole.content_hash() == out.content_hash()


def test_bad_search_settings_get_one_clear_error():
    from harness.core.errors import InputError
    from harness.generation.search.tree import SearchConfig
    with pytest.raises(InputError, match="divisible"):
        SearchConfig(method="dvts", n=6, expand=4).validate()
    with pytest.raises(InputError, match="unknown search method"):
        SearchConfig(method="mcts").validate()


@pytest.mark.parametrize("flags, message", [(["--expand", "0"], "--expand"), (["--method", "mcts"], "mcts"),
                                            (["--problems", "0"], "--problems"), (["--n", "0"], "--n")])
def test_bad_search_flags_exit_with_one_message_before_any_work(cache_root, capsys, flags, message):
    from harness.cli import main
    assert main(["--cache-dir", str(cache_root), "search", "--rm", "implicit_ce", *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and err.count("\n") == 1
    assert not (cache_root / "search").exists()


def test_search_command_runs_and_a_second_call_reads_the_cache(world, cache_root, tmp_path, capsys):
    from harness.cli import main
    _, _, paths = world
    argv = ["--cache-dir", str(cache_root), "search", "--rm", "implicit_ce", "--model", str(paths["strong"]),
            "--ref", str(paths["mid"]), "--generators", "weak", "--problems", "3", "--n", "2,4", "--method",
            "beam,dvts", "--expand", "2", "--results", str(tmp_path / "res")]
    assert main(argv) == 0
    first = capsys.readouterr()
    assert "| beam | 4 |" in first.out and "| dvts | 2 |" in first.out and "sampling (world pool)" in first.out
    assert (tmp_path / "res" / "runs" / "search-implicit_ce-beam-dvts.md").is_file()
    assert (tmp_path / "res" / "plots" / "search-implicit_ce-beam-dvts.png").is_file()
    from harness.evaluation.run_index import read_runs
    runs, notes = read_runs(tmp_path / "res" / "runs")
    assert runs == [] and "search-implicit_ce-beam-dvts.json" in notes[0]  # `leaderboard` leaves it out, saying so
    assert main(argv) == 0
    second = capsys.readouterr()
    assert "[search beam" not in second.err  # no search ran: every pool came from the cache
    assert second.out == first.out
    assert main(["--cache-dir", str(cache_root), "list"]) == 0
    listed = capsys.readouterr().out
    assert "search pool: generator" in listed and listed.count("beam") == 2 and listed.count("dvts") == 2
    assert main(argv[:-2] + ["--method", "dvts", "--n", "3"]) == 2
    assert "divisible" in capsys.readouterr().err


def test_loglik_guides_incrementally_and_random_by_rescoring(world, cache_root):
    """loglik's q is the running sum of its own step scores (log pi per step, no reference); `random` guides
    through the re-scoring path; either way every problem gets N finished solutions."""
    from harness.core.pool import Pool, Problem, Response
    from harness.flow.search.guides import IncrementalGuide, RescoreGuide, make_guide
    from harness.generation.search.tree import SearchConfig, search_batch
    from reward_models import get_rm
    gens, pool, paths = world
    model, tok = gens["mid"]
    problems = pool.problems[:4]
    loglik = get_rm("loglik", model=str(paths["mid"]), progress=False)
    guide = make_guide(loglik, tok)
    assert isinstance(guide, IncrementalGuide) and len(guide.models) == 1
    done, _ = search_batch(model, tok, problems, SearchConfig(method="dvts", n=4, expand=2), guide=guide)
    finished = Pool([Problem(p.id, p.problem, p.reference, [Response(tok.decode(c.text_tokens())) for c in chains])
                     for p, chains in zip(problems, done)])
    steps, _ = loglik.compute_scores(finished)
    searched = [c for chains in done for c in chains if not c.truncated and not c.completing]
    assert searched
    for chains, rows in zip(done, steps):
        for c, s in zip(chains, rows):
            if not c.truncated and not c.completing:
                assert c.scores[-1] == pytest.approx(float(np.sum(s)), abs=1e-4)  # sum of ~100 log-probs
    rnd = make_guide(get_rm("random"), tok)
    assert isinstance(rnd, RescoreGuide)
    done, stats = search_batch(model, tok, problems, SearchConfig(method="beam", n=4, expand=2), guide=rnd)
    assert [len(d) for d in done] == [4] * 4 and all(s["guide_flops"] is None for s in stats)


def test_truncated_solutions_are_scored_again_and_the_rest_handed_over(world, cache_root):
    """Responses cut at the token budget have no eos the ordinary scoring would append, so only they are scored
    again; the merged score set is still the reward model's ordinary scoring."""
    from harness.flow.search import stage
    from harness.flow.search.guides import make_guide
    from harness.generation.search.tree import SearchConfig
    gens, pool, paths = world
    model, tok = gens["mid"]
    rm = _implicit(world)
    cfg = SearchConfig(method="beam", n=4, expand=2, max_new_tokens=100)
    out = stage.search_pool(paths["mid"], pool.problems[:6], cfg, rm=rm, guide=make_guide(rm, tok),
                            task=get_task("arith"), model=(model, tok))
    ss = rm.score(out)
    truncated = sum(r.extra["search"]["truncated"] for p in out.problems for r in p.responses)
    assert 0 < ss.meta["scored_again"] == truncated < out.n_responses
    ordinary, _ = rm.compute_scores(out)
    for a, b in zip(ss.step_scores, ordinary):
        for x, y in zip(a, b):
            assert np.allclose(x, y, atol=1e-5)
