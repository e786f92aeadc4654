"""What the base model's hidden states know about a step being wrong: linear probes, per layer, on the arith world.

    python benchmarks/probe_steps.py [--problems 2000] [--val-problems 400] [--base DIR] [--l2 1e-3] [--out FILE]

The discriminative baselines (orm, math_shepherd, autopsv) train a value head or a step tag on the mid generator,
and rank the responses to one problem near chance (within-problem AUC ~0.55) while their pooled AUC is ~0.83. This
asks whether the information is there to be read: the mid generator (the base they train from) is run frozen over
the RM-training rollouts (rm_train-mid, the first --problems problems) and the validation rollouts (rm_val-mid),
and an L2-regularised logistic regression (numpy, Newton steps on standardised features) is fitted on the training
side and evaluated on the validation side, for the hidden state of each layer (0 = embeddings, the last one after
the final norm, what a value head reads) and for all layers concatenated:

  step probe     the hidden state at the last token of every step; label "the response has gone wrong by this
                 step" (wrong response, step index >= its first wrong step, `error_step` in the pool; steps of wrong
                 responses without an error_step are left out). Reported: step-level pooled and within-problem AUC,
                 and the response-level AUC of the probe's min over steps of P(still right) (what best-of-N with a
                 min-aggregated PRM ranks by), against the outcome.
  outcome probe  the hidden state at the response's last token (eos), label "the response is correct" (a value head
                 fitted on frozen features: the ORM's head without fine-tuning the backbone).
  centred        the same two probes fitted on features with each problem's mean removed (training side), so the
                 probe cannot learn which problems are hard, only what differs between responses to one problem;
                 evaluated on raw validation features (a within-problem ranking is unchanged by a per-problem shift
                 of the score only if the probe is linear, which it is).
  lp, all+lp     the step probe on the base model's own log-probability of the step's tokens (their sum and
                 min), alone and beside every layer's hidden state.
References, no fitting: the step's position alone (later steps are wrong more often: what step-level AUCs get for
free), and the base model's min token log-probability and total log-probability of a response (what `loglik` and
the implicit PRMs' log-ratio read), as response scores.

Within-problem AUC is the mean over problems with both classes (harness.evaluation.auc.roc_auc_ci), as in runs.
The last line is `RESULT {json}`. About a minute for the full pools on 2 CPU cores (the model is 3 layers, 96 wide).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, iters: int = 30) -> tuple[np.ndarray, float]:
    """Weights and bias of an L2-regularised logistic regression (mean log-loss + l2/2 |w|^2), Newton's method."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0  # the bias is not shrunk
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(xb @ w)))
        grad = xb.T @ (p - y) / n + reg * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb / n + np.diag(reg) + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def hidden_at_positions(model, tok, pool, positions_of, batch_size: int = 64) -> tuple[list, list]:
    """Per response (pool order): an array [layers, positions, hidden] of the hidden states at its positions, and
    an array [steps, 2] of the model's own log-probability of each step's tokens (sum, min over the step)."""
    import torch

    from reward_models.lm.loading import pad_id
    from reward_models.lm.logprobs import collate, encode_pool
    encs = encode_pool(tok, pool)
    out, lps = [], []
    pad = pad_id(tok)
    with torch.inference_mode():
        for b in range(0, len(encs), batch_size):
            chunk = encs[b:b + batch_size]
            batch = collate(chunk, pad, "left")
            o = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                      position_ids=batch["position_ids"], output_hidden_states=True, use_cache=False)
            hs = torch.stack(o.hidden_states, 0).float().numpy()  # [layers, batch, width, hidden]
            logp = torch.log_softmax(o.logits.float(), -1)
            width = hs.shape[2]
            for i, e in enumerate(chunk):
                cols = [width - len(e.ids) + j for j in positions_of(e)]
                out.append(hs[:, i, cols])
                at = width - len(e.ids)
                ids = torch.tensor(e.ids[e.prompt_len:])
                tok_lp = logp[i, at + e.prompt_len - 1:at + len(e.ids) - 1].gather(1, ids[:, None])[:, 0].numpy()
                lps.append(np.array([[tok_lp[e.step_of == t].sum(), tok_lp[e.step_of == t].min()]
                                     if (e.step_of == t).any() else [0.0, 0.0] for t in range(e.n_steps)]))
    return out, lps


def collect(model, tok, pool):
    """Step features/labels and last-token features/labels, with each row's problem and response index."""
    from reward_models.training.value_head import step_end_positions
    feats, lps = hidden_at_positions(model, tok, pool, step_end_positions)
    steps = {"x": [], "y": [], "problem": [], "response": [], "t": [], "lp": []}
    last = {"x": [], "y": [], "problem": [], "lp_sum": [], "lp_min": []}
    k = 0
    for pi, p in enumerate(pool.problems):
        for r in p.responses:
            f = feats[k][:, 1:]  # position 0 is the prompt's end: no step written yet
            last["x"].append(f[:, -1])
            last["y"].append(bool(r.correct))
            last["problem"].append(pi)
            last["lp_sum"].append(float(lps[k][:, 0].sum()))
            last["lp_min"].append(float(lps[k][:, 1].min()))
            err = r.extra.get("error_step")
            if r.correct or err is not None:
                for t in range(f.shape[1]):
                    steps["x"].append(f[:, t])
                    steps["y"].append(bool(not r.correct and t + 1 >= err))
                    steps["problem"].append(pi)
                    steps["response"].append(k)
                    steps["t"].append(t)
                    steps["lp"].append(lps[k][t])
            k += 1
    return ({k: np.array(v) for k, v in steps.items()}, {k: np.array(v) for k, v in last.items()},
            np.array([bool(r.correct) for p in pool.problems for r in p.responses]))


def grouped(values, groups):
    out: dict = {}
    for v, g in zip(values, groups):
        out.setdefault(int(g), []).append(v)
    return [out[g] for g in sorted(out)]


def aucs(scores, labels, groups) -> dict:
    from harness.evaluation.auc import roc_auc_ci
    a = roc_auc_ci(grouped(scores, groups), grouped(labels, groups), n_boot=0)
    return {"pooled": a["auc"], "within": a["within_auc"]}


def centred(x: np.ndarray, groups: np.ndarray) -> np.ndarray:
    out = x.copy()
    for g in np.unique(groups):
        m = groups == g
        out[m] -= x[m].mean(0)
    return out


def probe(train, val, layer, l2: float, centre: bool):
    """Fit on train rows of `layer` (None: all layers concatenated), return validation scores (logits)."""
    def feat(d):
        x = d["x"]
        if layer == "lp":  # the model's own log-probabilities of the step's tokens, no hidden state
            return d["lp"]
        if layer == "all+lp":
            return np.hstack([x.reshape(len(x), -1), d["lp"]])
        return x.reshape(len(x), -1) if layer is None else x[:, layer]
    xtr, xva = feat(train), feat(val)
    if centre:
        xtr = centred(xtr, train["problem"])
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
    w, b = fit_logistic((xtr - mu) / sd, train["y"].astype(float), l2)
    return ((xva - mu) / sd) @ w + b


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", type=int, default=2000, help="RM-training problems to fit on (first N)")
    ap.add_argument("--val-problems", type=int, default=400, help="validation problems to evaluate on (first N)")
    ap.add_argument("--base", default=None, help="model folder (default: the world's mid generator)")
    ap.add_argument("--l2", type=float, default=1e-3, help="L2 strength on standardised features")
    ap.add_argument("--out", default=None, help="also write the result as JSON here")
    args = ap.parse_args(argv)

    import torch

    from harness.core.pool import Pool, load_pool
    from reward_models.lm.loading import load_causal_lm
    from tasks.arith.world import open_world
    from tasks.arith.world_config import world_config
    torch.set_num_threads(1)
    world = open_world(world_config("default", 0), log=lambda *_: None)
    base = args.base or str(world.generator("mid"))
    tr, va = load_pool(world.pool("rm_train", "mid")), load_pool(world.pool("rm_val", "mid"))
    tr, va = Pool(tr.problems[:args.problems]), Pool(va.problems[:args.val_problems])
    model, tok = load_causal_lm(base, dtype="float32", device="cpu")
    model.eval()
    t0 = time.time()
    s_tr, l_tr, _ = collect(model, tok, tr)
    s_va, l_va, correct_va = collect(model, tok, va)
    seconds = time.time() - t0
    n_layers = s_tr["x"].shape[1]
    rows = []
    problem_of = np.repeat(np.arange(len(va.problems)), [len(p.responses) for p in va.problems])
    # Unfitted references: step position alone (later steps are wrong more often), and the base model's own
    # log-probability of what was written (the signal the implicit PRMs' log-ratio and loglik read).
    references = {"step position (earlier = right)": aucs(-s_va["t"], ~s_va["y"], s_va["problem"]),
                  "policy min token log-prob, response": aucs(l_va["lp_min"], l_va["y"], l_va["problem"]),
                  "policy total log-prob, response": aucs(l_va["lp_sum"], l_va["y"], l_va["problem"])}
    for name, a in references.items():
        print(json.dumps({"reference": name, **a}))
    for layer in [*range(n_layers), None, "lp", "all+lp"]:
        for centre in (False, True):
            if layer in ("lp", "all+lp") and centre:
                continue
            row = {"layer": "all" if layer is None else layer, "centred": centre}
            st = probe(s_tr, s_va, layer, args.l2, centre)  # logit of "gone wrong by this step"
            row["step"] = aucs(-st, ~s_va["y"], s_va["problem"])  # scores say "still right"
            per_resp: dict = {}
            for v, r in zip(-st, s_va["response"]):
                per_resp[int(r)] = min(per_resp.get(int(r), np.inf), float(v))
            keep = sorted(per_resp)
            row["step_min_response"] = aucs([per_resp[r] for r in keep], correct_va[keep], problem_of[keep])
            if layer in ("lp", "all+lp"):
                row["outcome"] = {"pooled": None, "within": None}  # step-level features only
            else:
                row["outcome"] = aucs(probe(l_tr, l_va, layer, args.l2, centre), l_va["y"], l_va["problem"])
            rows.append(row)
            print(json.dumps(row))
    result = {"base": base, "train_problems": len(tr.problems), "val_problems": len(va.problems),
              "train_steps": int(len(s_tr["y"])), "train_wrong_step_fraction": float(s_tr["y"].mean()),
              "val_steps": int(len(s_va["y"])), "l2": args.l2, "forward_seconds": round(seconds, 1),
              "references": references, "rows": rows}
    print(f"{'layer':>6} {'centred':>7} | step pooled  within | min-step resp pooled within | outcome pooled within")
    def f(x):
        return "  -  " if x is None else f"{x:.3f}"
    for r in rows:
        print(f"{r['layer']!s:>6} {r['centred']!s:>7} | {f(r['step']['pooled'])}  {f(r['step']['within'])} | "
              f"{f(r['step_min_response']['pooled'])}  {f(r['step_min_response']['within'])} | "
              f"{f(r['outcome']['pooled'])}  {f(r['outcome']['within'])}")
    for name, a in references.items():
        print(f"{name}: pooled {f(a['pooled'])} within {f(a['within'])}")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
