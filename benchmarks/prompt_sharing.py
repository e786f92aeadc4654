"""Prompt sharing: the N responses of a problem share one prompt; forward it once and reuse its key/value cache.

    python benchmarks/prompt_sharing.py [--problems 32] [--responses 16] [--size small] [--batch-size 16]
                                        [--preamble 0,300] [--repeats 3] [--threads 1]

On a synthetic arith pool and a freshly initialised arith model (speed does not depend on training) it times, in the
same run and over the same encoded sequences, `step_logps` without and with `share_prompt`, checks that both give the
same step log-prob sums (max |difference| <= 1e-5), and counts the tokens forwarded and saved. Arith prompts are
short (about a quarter of a sequence); `--preamble 300` puts a fixed instruction of that many characters in front of
every problem, so prompts are as long relative to responses as chat-templated MATH prompts are.

The last line is `RESULT {json}` for benchmarks/run_all.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

PREAMBLE = ("Solve the following arithmetic problem. Work step by step, one operation a step, write each step as "
            "'Step k: a op b = c', and finish with 'The answer is N'. ")


def with_preamble(pool, chars: int):
    from harness.core.pool import Pool, Problem
    if chars <= 0:
        return pool
    text = (PREAMBLE * (chars // len(PREAMBLE) + 1))[:chars]
    return Pool([Problem(p.id, text + p.problem, p.reference, p.responses, p.meta) for p in pool.problems])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=32)
    ap.add_argument("--responses", type=int, default=16)
    ap.add_argument("--size", default="small", choices=["nano", "small", "base"])
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--preamble", default="0,300", help="comma-separated preamble lengths (characters) to try")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    import numpy as np
    import torch
    from scoring_speed import best_of, synthetic_pool
    from tabulate import tabulate

    from reward_models.lm.logprobs import STATS, encode_pool, step_logps
    from tasks.arith.model import make_model
    from tasks.arith.tokenizer import build_tokenizer

    torch.set_num_threads(args.threads)
    tok = build_tokenizer()
    model = make_model(tok, args.size, 1).eval()
    base_pool = synthetic_pool(args.problems, args.responses)
    rows, figures = [], []
    for chars in [int(c) for c in args.preamble.split(",")]:
        pool = with_preamble(base_pool, chars)
        encs = encode_pool(tok, pool)
        n_tokens = sum(len(e.ids) for e in encs)
        prompt_tokens = sum(e.prompt_len for e in encs)

        def run(share):
            return step_logps(model, encs, tok.pad_token_id, batch_size=args.batch_size, progress=False,
                              share_prompt=share)

        plain = run(False)  # also the warm-up
        STATS.clear()
        shared = run(True)
        forwarded, saved = STATS["tokens"], STATS["prompt_tokens_saved"]
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(plain, shared))
        cpu = []
        t_plain, t_shared = best_of(args.repeats, lambda: run(False), lambda: run(True), cpu=cpu)
        fig = {"preamble_chars": chars, "tokens": n_tokens, "prompt_share": prompt_tokens / n_tokens,
               "tokens_forwarded": forwarded, "tokens_saved": saved, "t_plain": t_plain, "t_shared": t_shared,
               "speedup": t_plain / t_shared, "cpu_plain": cpu[0], "cpu_shared": cpu[1],
               "cpu_speedup": cpu[0] / cpu[1], "max_abs_diff": diff}
        figures.append(fig)
        rows.append([chars, f"{prompt_tokens / len(encs):.0f} / {(n_tokens - prompt_tokens) / len(encs):.0f}",
                     n_tokens, forwarded, f"{saved} ({saved / n_tokens:.0%})", t_plain, n_tokens / t_plain, t_shared,
                     n_tokens / t_shared, t_plain / t_shared, cpu[0] / cpu[1], f"{diff:.1e}"])

    print(f"pool: {args.problems} problems x {args.responses} responses; model '{args.size}' "
          f"({sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters); batch size {args.batch_size}; "
          f"{args.threads} thread(s); best of {args.repeats}\n")
    print(tabulate(rows, headers=["preamble chars", "prompt / response tokens", "pool tokens", "forwarded (shared)",
                                  "saved", "plain s", "plain tok/s", "shared s", "shared tok/s", "speed-up",
                                  "speed-up (CPU)", "max |diff|"],
                   floatfmt=("", "", "", "", "", ".3f", ".0f", ".3f", ".0f", ".2f", ".2f", "")))
    ok = all(f["max_abs_diff"] <= 1e-5 for f in figures)
    print(f"\nscores equal within 1e-5: {'yes' if ok else 'NO'}; tokens/s counts every token of the pool "
          f"(prompt included) so both columns measure the same work")
    print("RESULT " + json.dumps({"benchmark": "prompt_sharing", "args": vars(args), "figures": figures, "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
