"""What guided search costs beside plain sampling, and what the incremental q_t saves over re-scoring prefixes.

    python benchmarks/search_speed.py [--problems 20] [--n 16] [--expand 4] [--threads 2]

On the shipped arith world's middle generator and an implicit PRM (policy = strong generator, reference = mid: the
shape of a trained one, no training needed), the same problems and N:
- sampling: the world's sampler (harness.generation.sampling), N chains a problem;
- beam, incremental: beam search guided by q_t kept in key/value caches (harness.flow.search);
- beam, re-scoring: the same search with the same reward model re-scoring every prefix through its adapter (each
  unfinished prefix scored as a prefix, no eos appended: the same q_t, so the same chains; checked);
- ordinary scoring of the beam pool's finished solutions, for the reward model's tokens/s outside the search.
Prints chains/s, the ratios and the reward model's tokens/s; the last line is `RESULT {json}`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=20)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--expand", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    from harness.core.pool import Pool, Problem, Response, load_pool
    from harness.flow.search.guides import RescoreGuide, make_guide
    from harness.generation.sampling import sample_responses
    from harness.generation.search.tree import SearchConfig, search_batch
    from reward_models import get_rm
    from tasks.arith import frozen
    from tasks.arith.world_sampling import load_generator
    model, tok = load_generator(frozen.generator_path("mid"))
    problems = load_pool(frozen.pool_path("test-mid")).problems[:args.problems]
    rm = get_rm("implicit_ce", model=str(frozen.generator_path("strong")), ref=str(frozen.generator_path("mid")),
                progress=False)
    chains = args.problems * args.n
    cfg = SearchConfig(method="beam", n=args.n, expand=args.expand)

    def timed(fn):
        t = time.perf_counter()
        out = fn()
        return time.perf_counter() - t, out

    t_sample, _ = timed(lambda: sample_responses(model, tok, [p.problem for p in problems], args.n, temperature=0.5,
                                                 max_new_tokens=200, seed=0))
    guide = make_guide(rm, tok)
    t_inc, (done, stats) = timed(lambda: search_batch(model, tok, problems, cfg, guide=guide))
    t_res, (redone, _) = timed(lambda: search_batch(model, tok, problems, cfg, guide=RescoreGuide(rm, "sum")))
    same = sum(sorted(map(tuple, (c.tokens for c in a))) == sorted(map(tuple, (c.tokens for c in b)))
               for a, b in zip(done, redone))
    pool = Pool([Problem(p.id, p.problem, p.reference, [Response(tok.decode(c.text_tokens())) for c in cs])
                 for p, cs in zip(problems, done)])
    t_score, _ = timed(lambda: rm.compute_scores(pool))
    guide_tokens = sum(s["guide_tokens"] for s in stats)
    scored_tokens = sum(len(tok(r.text)["input_ids"]) + 1 for p in pool.problems for r in p.responses)
    res = {"problems": args.problems, "n": args.n, "expand": args.expand, "chains": chains,
           "sampling_chains_per_s": chains / t_sample, "beam_incremental_chains_per_s": chains / t_inc,
           "beam_rescoring_chains_per_s": chains / t_res, "beam_over_sampling": t_inc / t_sample,
           "rescoring_over_incremental": t_res / t_inc, "same_search_problems": same,
           "guide_tokens_per_model": guide_tokens, "ordinary_scoring_tokens_per_s": 2 * scored_tokens / t_score,
           # keeping q_t in the caches must beat re-scoring every prefix, on the same search
           "ok": t_res > t_inc and same == args.problems}
    print(f"{chains} chains ({args.problems} problems x N = {args.n}, M = {args.expand}), {args.threads} threads")
    print(f"  sampling (harness.generation.sampling): {t_sample:6.1f} s  {res['sampling_chains_per_s']:7.1f} "
          "chains/s")
    print(f"  beam, incremental q_t:                {t_inc:6.1f} s  {res['beam_incremental_chains_per_s']:7.1f} "
          f"chains/s  ({res['beam_over_sampling']:.2f}x sampling's time, generator + two reward-model caches)")
    print(f"  beam, re-scoring every prefix:        {t_res:6.1f} s  {res['beam_rescoring_chains_per_s']:7.1f} "
          f"chains/s  ({res['rescoring_over_incremental']:.2f}x the incremental search; the same chains on "
          f"{same} of {args.problems} problems)")
    print(f"  ordinary scoring of the beam pool:    {t_score:6.1f} s  ({res['ordinary_scoring_tokens_per_s']:.0f} "
          "tokens/s over policy and reference)")
    print("RESULT " + json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
