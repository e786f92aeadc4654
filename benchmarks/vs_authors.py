"""The harness's implicit-PRM scorer against the authors' own scoring code, on the same pool and models.

    python benchmarks/vs_authors.py [--problems 8] [--responses 8] [--size small] [--batch-size 8]
                                    [--min-ops 6] [--max-ops 9] [--repeats 2] [--threads 1]

Three scorers of the same step rewards (beta = 1: the log-ratio itself), none of them part of the package but the
harness's:

1. **The authors' evaluation code** (PRIME-RL/ImplicitPRM @ c044175, eval/bon_eval.py with eval/prm_eval_utils.py:
   `implicit_prm_data_collator`, `get_logps`, `get_reward`), transcribed in `authors_scores`: each whole response is
   tokenized once; the step ends are found by tokenizing every step prefix on its own (`cur_special_ids =
   len(prefix ids) - 2`); responses go through each model in file order, `batch_size` at a time (8 in their
   bon_eval.sh), padded on the right with the pad id (`attention_mask = inputs != pad`, no position ids); the
   log-softmax is taken over the full vocabulary at every position (`logits.log_softmax(-1)`, in the model's dtype),
   the tokens' log-probs gathered, masked by `label_mask`, the log-ratio summed cumulatively and gathered at the step
   ends; a step's reward is the difference of consecutive gathered values ("single"). One deviation, stated:
   their `label_mask` starts at `len(prefix_0 ids) - 2`, which also counts the last two prompt tokens into step 1;
   here it starts at the first response token, so that the step rewards can be checked against the harness's (it
   changes no cost).
2. **Per-prefix** (`straightforward_scores`, the row earlier versions of this benchmark called "the authors'
   approach", which their code does not do): every step prefix is its own sequence, so a response of k steps is
   forwarded k times by each model.
3. **The harness** (reward_models/lm/logprobs.py): prompt and response tokenized once, length-bucketed batches,
   log-softmax only at response tokens, per-step sums with one index_add.

All three must give the same step rewards (max |difference| <= 1e-4) for the comparison to be fair. The harness's
layout is used for all three (its prompt template, "Step k:" texts, end-of-sequence token), so that their step
rewards can be compared: the cost of the authors' chat template is not what is measured. Models are freshly
initialised arith models: speed does not depend on training. --min-ops/--max-ops set the response length (6-9
operations: about 8 steps and 190 tokens a response, the step count of a MATH-500 solution).

The last line is `RESULT {json}` for benchmarks/run_all.py (`speedup`: against the authors' code;
`speedup_per_prefix`: against the per-prefix scorer).
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
    """Step rewards [problem][response][step], one forward per step prefix per model (not what the
    authors' code does: see the module docstring)."""
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


def authors_scores(policy, ref, tok, pool, batch_size: int, beta: float = 1.0):
    """Step rewards [problem][response][step] as the authors' eval code computes them (see the module docstring)."""
    import torch
    from torch.nn.utils.rnn import pad_sequence

    from harness.core.prompting import build_prompt
    from harness.core.steps import step_spans
    rows, owners = [], []
    for i, prob in enumerate(pool.problems):
        prompt = build_prompt(tok, prob.problem)
        for j, r in enumerate(prob.responses):
            full = prompt + r.text + tok.eos_token
            input_ids = tok.encode(full, add_special_tokens=False)
            spans = step_spans(r.text)
            # their cur_special_ids: the length of every prefix's own tokenization, minus 2 (the per-token log-prob
            # of a prefix's last token sits at index len - 2 of the shifted sequence)
            special = [len(tok.encode(prompt, add_special_tokens=False))]   # deviation: see the docstring
            for t, (_, end) in enumerate(spans):
                last = t == len(spans) - 1
                prefix = full if last else prompt + r.text[:end]
                special.append(len(tok.encode(prefix, add_special_tokens=False)) - 2)
            label_mask = [0] * special[0] + [1] * (len(input_ids) - special[0])
            rows.append((torch.tensor(input_ids), torch.tensor(special), torch.tensor(label_mask)))
            owners.append((i, j))
    out = [[None for _ in p.responses] for p in pool.problems]
    with torch.inference_mode():
        for a in range(0, len(rows), batch_size):                       # file order, as their DataLoader
            batch = rows[a:a + batch_size]
            inputs = pad_sequence([b[0] for b in batch], padding_value=tok.pad_token_id, batch_first=True)
            labels = pad_sequence([b[0] for b in batch], padding_value=-100, batch_first=True)
            attention_mask = (inputs != tok.pad_token_id).int()
            label_mask = pad_sequence([b[2] for b in batch], padding_value=0, batch_first=True)
            special = pad_sequence([b[1] for b in batch], padding_value=-100, batch_first=True)
            logps = []
            for model in (policy, ref):                                  # get_logps, once per model
                logits = model(input_ids=inputs, attention_mask=attention_mask).logits
                lab = labels[:, 1:].clone().long()
                logits = logits[:, :-1, :]
                lab[lab == -100] = 0
                per_token = torch.gather(logits.log_softmax(-1), dim=2, index=lab.unsqueeze(2)).squeeze(2)
                logps.append(per_token * (lab != -100))
            raw = (logps[0] - logps[1]) * label_mask[:, 1:]                 # get_reward, "w/ ref", constant beta
            cum = (beta * raw).cumsum(-1)
            index = torch.where(special == -100, 0, special)
            q = cum.gather(dim=-1, index=index[:, 1:])
            q = torch.where(special[:, 1:] == -100, 1e3, q)
            single = q - torch.cat([torch.zeros(q.shape[0], 1), q[:, :-1]], dim=-1)
            for r, (i, j) in enumerate(owners[a:a + batch_size]):
                n = int((special[r, 1:] != -100).sum())
                out[i][j] = single[r, :n].double().tolist()
    return out, sum(len(b[0]) for b in rows)


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

    def max_diff(x, y):
        return max(float(np.max(np.abs(np.array(u) - np.array(v)))) for px, py in zip(x, y) for u, v in zip(px, py))

    ours = harness_scores(policy, ref, tok, pool, args.batch_size)          # also the warm-up
    authors, authors_tokens = authors_scores(policy, ref, tok, pool, args.batch_size)
    prefix, prefix_tokens = straightforward_scores(policy, ref, tok, pool, args.batch_size)
    diff = max(max_diff(ours, authors), max_diff(ours, prefix))
    cpu = []
    t_ours, t_auth, t_prefix = best_of(
        args.repeats, lambda: harness_scores(policy, ref, tok, pool, args.batch_size),
        lambda: authors_scores(policy, ref, tok, pool, args.batch_size),
        lambda: straightforward_scores(policy, ref, tok, pool, args.batch_size), cpu=cpu)
    speedup, cpu_speedup = t_auth / t_ours, cpu[1] / cpu[0]
    speedup_prefix, cpu_speedup_prefix = t_prefix / t_ours, cpu[2] / cpu[0]
    print(f"pool: {args.problems} problems x {args.responses} responses, {n_steps} steps, {n_tokens} tokens "
          f"({n_tokens / len(encs):.0f} a sequence, {n_steps / len(encs):.1f} steps a response); two '{args.size}' "
          f"models; batch size {args.batch_size}; {args.threads} thread(s); best of {args.repeats}\n")
    rows = [["authors' eval code (bon_eval.py, transcribed)", t_auth, cpu[1], 2 * authors_tokens,
             n_tokens / t_auth, 1.0, 1.0],
            ["per-prefix (one forward per step prefix)", t_prefix, cpu[2], 2 * prefix_tokens, n_tokens / t_prefix,
             t_auth / t_prefix, cpu[1] / cpu[2]],
            ["harness (reward_models/lm/logprobs.py)", t_ours, cpu[0], 2 * n_tokens, n_tokens / t_ours, speedup,
             cpu_speedup]]
    print(tabulate(rows, headers=["scorer (policy + reference)", "wall s", "CPU s", "tokens forwarded",
                                  "pool tokens/s", "speed-up vs authors (wall)", "(CPU)"],
                   floatfmt=("", ".3f", ".3f", "", ".0f", ".2f", ".2f")))
    ok = diff <= 1e-4
    print(f"\nsame step rewards (all three): max |difference| {diff:.1e} ({'ok' if ok else 'ABOVE 1e-4'}); "
          f"harness vs the authors' code {speedup:.2f}x wall, {cpu_speedup:.2f}x CPU; vs per-prefix "
          f"{speedup_prefix:.2f}x wall")
    print("RESULT " + json.dumps({"benchmark": "vs_authors", "args": vars(args), "tokens": n_tokens,
                                  "steps": n_steps, "authors_tokens": 2 * authors_tokens,
                                  "per_prefix_tokens": 2 * prefix_tokens, "t_harness": t_ours, "t_authors": t_auth,
                                  "t_per_prefix": t_prefix, "speedup": speedup, "cpu_speedup": cpu_speedup,
                                  "speedup_per_prefix": speedup_prefix, "cpu_speedup_per_prefix": cpu_speedup_prefix,
                                  "cpu_harness": cpu[0], "cpu_authors": cpu[1], "cpu_per_prefix": cpu[2],
                                  "max_abs_diff": diff, "ok": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
