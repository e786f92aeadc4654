"""Reward-guided search, the flow's side (harness/flow/search): the guides (incremental q_t is the implicit PRM's
step rewards; the re-scoring guide reads a prefix as a prefix; loglik and random guides), the search stage's caching,
resuming and re-scoring of truncated solutions, and the command. The decoding itself (forkable caches, keyed draws,
beam search that keeps every chain is sampling, a perfect step scorer makes beam search at least best-of-N) is
tests/generation/search/."""

from __future__ import annotations

import numpy as np
import pytest
from _frozen_world import frozen_world, untrained_implicit

from tasks import get_task

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def world():
    return frozen_world()


def test_incremental_q_is_the_running_sum_of_the_implicit_prms_step_rewards(world):
    """q_t kept from the key/value caches after each search step equals the cumulative step rewards of the
    finished response under the implicit PRM's ordinary scoring, at every step end the two share, to 1e-5."""
    from harness.core.pool import Pool, Problem, Response
    from harness.core.steps import step_spans
    from harness.flow.search.guides import IncrementalGuide, make_guide
    from harness.generation.search.tree import SearchConfig, search_batch
    gens, pool, _ = world
    model, tok = gens["weak"]
    rm = untrained_implicit(world)  # beta 0.05: the raw log-ratio sums of two float32 implementations differ by ~3e-5
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
    rm = untrained_implicit(world)
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


def test_search_pool_is_cached_resumes_and_carries_its_metadata(world, cache_root, monkeypatch):
    from harness.flow.search import stage
    from harness.flow.search.guides import make_guide
    from harness.generation.search.tree import SearchConfig
    gens, pool, paths = world
    model, tok = gens["mid"]
    rm = untrained_implicit(world)
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
    import json

    from harness.flow.timings import LINE, Timings
    saved = json.loads((tmp_path / "res" / "runs" / "search-implicit_ce-beam-dvts.json").read_text())
    assert list(saved) == ["kind", "command", "config", "search", "world", "rm", "temperature", "max_new_tokens",
                           "generators", "timings", "guide", "rm_params"]
    assert saved["command"] == ("python -m harness search --rm implicit_ce --method beam,dvts --n 2,4 --expand 2 "
                                "--problems 3 --generators weak --set model=" + str(paths["strong"]) + " --set ref="
                                + str(paths["mid"]))
    md = (tmp_path / "res" / "runs" / "search-implicit_ce-beam-dvts.md").read_text().splitlines()
    line = next(ln for ln in md if ln.startswith(LINE))
    assert Timings.parse(line).to_dict() == saved["timings"] == json.loads(line[len(LINE):])
    assert list(saved["timings"]) == ["prepare_s", "search_s", "score_s", "total_s"]
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
    rm = untrained_implicit(world)
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
