"""The harness's implicit-PRM scorer against the straightforward one of the authors' code, on the same pool and models.

    python benchmarks/vs_authors.py [--problems 8] [--responses 8] [--size small] [--batch-size 8]
                                    [--min-ops 6] [--max-ops 9] [--repeats 2] [--threads 1]

The straightforward scorer (reimplemented here, it is not part of the package) follows the evaluation of
PRIME-RL/ImplicitPRM (eval/process_eval.sh runs their processbench.py with a policy, a reference, --batch_size 8 and
--coef 0.005; the Python file itself is not in our source index, so the steps below follow issue 8's description of
it): for every response and every step t, the chat-templated text of prompt + response up to the end of step t is
built and tokenized on its own; all these prefixes go, in file order, in batches padded to the longest, through the
policy and through the reference; the full-vocabulary log-softmax is taken; the response tokens' log-ratio is summed
to q_t (the reward read at the prefix's last token) and the step reward is beta * (q_t - q_{t-1}).

The harness tokenizes each prompt and response once, runs each model once over whole responses in length-bucketed
batches, computes log-softmax only at response tokens, and sums per step with one index_add
(reward_models/lm/logprobs.py). Both must give the same step rewards (max |difference| <= 1e-4, checked here on the
log-ratio itself, i.e. beta = 1) for the comparison to be fair. Models are freshly initialised arith models: speed does
not depend on training. --min-ops/--max-ops set the response length (6-9 operations: about 8 steps and 190 tokens a
response, the step count of a MATH-500 solution).

The last line is `RESULT {json}` for benchmarks/run_all.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def prefix_texts(tok, pool) -> tuple[list[str], list[int], list[int], list[tuple[int, int, int]]]:
    """Every (problem, response, step) prefix as templated text, its prompt length and the owner of each prefix.

    The prompt is the chat template with the generation prompt (harness.core.prompting.build_prompt, what the responses
    were generated from); the prefix of step t runs to where step t+1 starts, the last one is the whole response
    followed by the end-of-turn token the template puts after an assistant message.
    """
    from harness.core.prompting import build_prompt
    from harness.core.steps import step_spans
    texts, prompt_lens, owners = [], [], []
    for i, prob in enumerate(pool.problems):
        prompt = build_prompt(tok, prob.problem)
        n_prompt = len(tok(prompt, add_special_tokens=False)["input_ids"])
        for j, r in enumerate(prob.responses):
            spans = step_spans(r.text)
            for t, (_, end) in enumerate(spans):
                last = t == len(spans) - 1
                texts.append(prompt + r.text[:len(r.text) if last else end] + (tok.eos_token if last else ""))
                prompt_lens.append(n_prompt)
                owners.append((i, j, t))
    return texts, prompt_lens, owners


def straightforward_scores(policy, ref, tok, pool, batch_size: int, beta: float = 1.0):
    """Step rewards [problem][response][step], one forward per step prefix per model."""
    import torch
    texts, prompt_lens, owners = prefix_texts(tok, pool)
    q = []
    with torch.inference_mode():
        for a in range(0, len(texts), batch_size):                       # file order
            enc = tok(texts[a:a + batch_size], add_special_tokens=False, padding="longest", return_tensors="pt")
            ids, mask = enc["input_ids"], enc["attention_mask"]
            labels = ids.clone()
            labels[mask == 0] = -100
            for r, n in enumerate(prompt_lens[a:a + batch_size]):
                labels[r, :n] = -100                                      # prompt tokens are not scored
            sums = []
            for model in (policy, ref):
                # padding side follows the tokenizer: position ids from the mask keep left padding correct too
                pos = (mask.cumsum(-1) - 1).clamp(min=0)
                logits = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits[:, :-1]
                lab = labels[:, 1:]
                lp = logits.float().log_softmax(-1).gather(-1, lab.clamp(min=0)[..., None]).squeeze(-1)
                sums.append((lp * (lab != -100)).double().sum(-1))
            q.extend((sums[0] - sums[1]).tolist())
    out = [[[] for _ in p.responses] for p in pool.problems]
    prev = 0.0
    for (i, j, t), qt in zip(owners, q):
        if t == 0:
            prev = 0.0
        out[i][j].append(beta * (qt - prev))
        prev = qt
    return out, sum(len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts)


def harness_scores(policy, ref, tok, pool, batch_size: int, beta: float = 1.0):
    """What ImplicitPRM.compute_scores does once its models are loaded (single step rewards)."""
    from reward_models.lm.logprobs import encode_pool, regroup, step_logps
    encs = encode_pool(tok, pool)
    pol = regroup(step_logps(policy, encs, tok.pad_token_id, batch_size=batch_size, progress=False), pool)
    rf = regroup(step_logps(ref, encs, tok.pad_token_id, batch_size=batch_size, progress=False), pool)
    return [[(beta * (p - r)).tolist() for p, r in zip(pp, rr)] for pp, rr in zip(pol, rf)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=8)
    ap.add_argument("--responses", type=int, default=8)
    ap.add_argument("--size", default="small", choices=["nano", "small", "base"])
    ap.add_argument("--batch-size", type=int, default=8, help="both scorers (8: the authors' script)")
    ap.add_argument("--min-ops", type=int, default=6)
    ap.add_argument("--max-ops", type=int, default=9)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    import numpy as np
    import torch
    from scoring_speed import best_of, synthetic_pool
    from tabulate import tabulate

    from reward_models.lm.logprobs import encode_pool
    from tasks.arith.model import make_model
    from tasks.arith.tokenizer import build_tokenizer

    torch.set_num_threads(args.threads)
    tok = build_tokenizer()
    policy, ref = make_model(tok, args.size, 1).eval(), make_model(tok, args.size, 0).eval()
    pool = synthetic_pool(args.problems, args.responses, min_ops=args.min_ops, max_ops=args.max_ops)
    encs = encode_pool(tok, pool)
    n_tokens = sum(len(e.ids) for e in encs)
    n_steps = sum(e.n_steps for e in encs)

    ours = harness_scores(policy, ref, tok, pool, args.batch_size)          # also the warm-up
    theirs, their_tokens = straightforward_scores(policy, ref, tok, pool, args.batch_size)
    diff = max(float(np.max(np.abs(np.array(a) - np.array(b))))
               for pa, pb in zip(ours, theirs) for a, b in zip(pa, pb))
    cpu = []
    t_ours, t_theirs = best_of(args.repeats, lambda: harness_scores(policy, ref, tok, pool, args.batch_size),
                               lambda: straightforward_scores(policy, ref, tok, pool, args.batch_size), cpu=cpu)
    speedup, cpu_speedup = t_theirs / t_ours, cpu[1] / cpu[0]
    print(f"pool: {args.problems} problems x {args.responses} responses, {n_steps} steps, {n_tokens} tokens "
          f"({n_tokens / len(encs):.0f} a sequence, {n_steps / len(encs):.1f} steps a response); two '{args.size}' "
          f"models; batch size {args.batch_size}; {args.threads} thread(s); best of {args.repeats}\n")
    rows = [["straightforward (authors' approach)", t_theirs, cpu[1], 2 * their_tokens, n_tokens / t_theirs, 1.0,
             1.0],
            ["harness (reward_models/lm/logprobs.py)", t_ours, cpu[0], 2 * n_tokens, n_tokens / t_ours, speedup,
             cpu_speedup]]
    print(tabulate(rows, headers=["scorer (policy + reference)", "wall s", "CPU s", "tokens forwarded",
                                  "pool tokens/s", "speed-up (wall)", "speed-up (CPU)"],
                   floatfmt=("", ".3f", ".3f", "", ".0f", ".2f", ".2f")))
    ok = diff <= 1e-4
    print(f"\nsame step rewards: max |difference| {diff:.1e} ({'ok' if ok else 'ABOVE 1e-4'}); speed-up "
          f"{speedup:.1f}x wall, {cpu_speedup:.1f}x CPU ({'ok' if speedup >= 3 else 'BELOW the 3x target'})")
    print("RESULT " + json.dumps({"benchmark": "vs_authors", "args": vars(args), "tokens": n_tokens,
                                  "steps": n_steps, "their_tokens": 2 * their_tokens, "t_harness": t_ours,
                                  "t_straightforward": t_theirs, "speedup": speedup,
                                  "cpu_harness": cpu[0], "cpu_straightforward": cpu[1], "cpu_speedup": cpu_speedup,
                                  "max_abs_diff": diff, "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
