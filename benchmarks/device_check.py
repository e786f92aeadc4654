"""The accelerator path in one short run: scoring, training and sampling on a device in bf16, against fp32 on CPU.

    python benchmarks/device_check.py [--device cuda] [--dtype bfloat16] [--model PATH] [--out FILE.json]
    python benchmarks/device_check.py --quick          # CPU fallback, seconds (the tests run this)

The model is --model (a Hugging Face folder), else SmolLM2-135M converted from its GGUF into the harness cache
(`--base smollm2`) when that exists on this machine, else a randomly initialised model of SmolLM2-135M's architecture
(576 hidden, 30 layers, 9 heads, 3 key/value heads: the same arithmetic per token, so the same speed; a machine
without a hub or a package index may have neither the GGUF nor the converted 540 MB folder). --quick takes the nano
arith model. On a synthetic arith pool it measures, on the same batches:
  - a bare forward and the harness's scorer pass (collate, forward, gather, per-step sums): tokens/s and the ratio;
  - the scorer with prompt sharing (each problem's prompt once, its key/value cache reused);
  - agreement of the device's dtype scores with float32 CPU scores: mean |difference| per token of the response
    log-probs, the largest difference of a response's sum, Spearman correlation of the sums, and how often the
    highest-scoring response of a problem is the same one. Tolerance: mean per-token difference <= 0.05 nats and
    Spearman >= 0.99 (bf16 keeps 8 bits of mantissa; the scorer's log-softmax and sums run in float32/float64);
  - a training step (forward + backward + AdamW, float32 weights, autocast to the dtype, as the trainer does);
  - sampling tokens/s (harness.generation.sampling on the device);
  - peak memory (CUDA: max allocated; CPU: the process's maximum resident set).
The last line is `RESULT {json}`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

TOLERANCE = {"mean_abs_token_diff": 0.05, "spearman": 0.99}
SMOLLM2_ARCH = dict(hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                    intermediate_size=1536, vocab_size=49152, max_position_embeddings=2048, rope_theta=100000.0,
                    tie_word_embeddings=True, rms_norm_eps=1e-5)


def pick_model(args, tok):
    """(fp32 CPU model, tokenizer, description)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from reward_models.lm.loading import load_causal_lm
    if args.quick:
        from tasks.arith.model import make_model
        return make_model(tok, "nano", 0).eval(), tok, "arith nano model (random init)"
    if args.model:
        model, mtok = load_causal_lm(args.model, dtype="float32")
        return model, mtok or tok, f"{args.model}"
    try:
        from reward_models.lm.named_bases import converted_dir, find_gguf
        folder = converted_dir("smollm2", find_gguf("smollm2"))
        if folder.is_dir():
            model, mtok = load_causal_lm(folder, dtype="float32")
            return model, mtok, f"SmolLM2-135M-Instruct ({folder})"
    except Exception:  # no GGUF, no gguf package: fall back to the architecture
        pass
    torch.manual_seed(0)
    cfg = LlamaConfig(**SMOLLM2_ARCH, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id)
    return LlamaForCausalLM(cfg).eval(), tok, "SmolLM2-135M architecture, random init (no converted SmolLM2 here)"


def peak_memory_mb(device) -> float:
    import torch
    from scaling import rss_mb
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return rss_mb()


def spearman(a, b) -> float:
    from scipy.stats import spearmanr
    return float(spearmanr(a, b).statistic)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    ap.add_argument("--model", default=None, help="a Hugging Face model folder")
    ap.add_argument("--problems", type=int, default=32)
    ap.add_argument("--responses", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--train-steps", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="nano model, small pool: the CPU fallback the tests run")
    ap.add_argument("--out", default=None, help="also write the figures as JSON here")
    args = ap.parse_args(argv)
    if args.quick:
        args.problems, args.responses, args.train_steps, args.repeats = 6, 4, 2, 1
    return args


def sync(device) -> None:
    import torch
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_scoring(model, encs, pad: int, batch_size: int, repeats: int, device) -> tuple[float, float, float]:
    """Best-of-`repeats` seconds of a bare forward, the scorer pass and the scorer with shared prompts, on the same
    batches."""
    import torch
    from scoring_speed import best_of

    from reward_models.lm.logprobs import collate, make_batches, step_logps
    batches = [collate([encs[i] for i in idx], pad, "left")
               for idx in make_batches([len(e.ids) for e in encs], batch_size)]

    def bare():
        with torch.inference_mode():
            for b in batches:
                model(input_ids=b["input_ids"].to(device), attention_mask=b["attention_mask"].to(device),
                      position_ids=b["position_ids"].to(device), use_cache=False)
        sync(device)

    def scorer():
        step_logps(model, encs, pad, batch_size=batch_size, progress=False)
        sync(device)

    def shared():
        step_logps(model, encs, pad, batch_size=batch_size, progress=False, share_prompt=True)
        sync(device)

    bare()  # warm-up (kernels, allocator)
    return best_of(repeats, bare, scorer, shared)


def agreement_of(ref, got, pool, resp_tokens: int) -> dict:
    """How the device's scores agree with float32 CPU scores (per-token and per-response differences, Spearman of the
    sums, the same best response of a problem), and whether that is within TOLERANCE."""
    import numpy as np
    sums_ref = np.array([s.sum() for s in ref])
    sums_got = np.array([s.sum() for s in got])
    diff = np.abs(sums_ref - sums_got)
    same_pick, start = 0, 0
    for p in pool.problems:
        k = len(p.responses)
        same_pick += int(np.argmax(sums_ref[start:start + k]) == np.argmax(sums_got[start:start + k]))
        start += k
    agreement = {"mean_abs_token_diff": float(diff.sum() / resp_tokens), "max_abs_sum_diff": float(diff.max()),
                 "spearman": spearman(sums_ref, sums_got), "same_best_response": same_pick / len(pool.problems)}
    agreement["within_tolerance"] = bool(agreement["mean_abs_token_diff"] <= TOLERANCE["mean_abs_token_diff"]
                                         and agreement["spearman"] >= TOLERANCE["spearman"])
    return agreement


def time_training(cpu_model, batch, pad: int, dtype, device, steps: int):
    """(the trained model, seconds a step, the losses): float32 master weights, forward under autocast
    (reward_models/training/loop.py does the same), AdamW."""
    import torch

    from reward_models.lm.logprobs import sequence_logps
    train_model = cpu_model.to(device=device, dtype=torch.float32).train()
    opt = torch.optim.AdamW(train_model.parameters(), lr=1e-6)
    amp = dtype != torch.float32

    def train_step():
        with torch.autocast(device.type, dtype=dtype, enabled=amp):
            loss = -sequence_logps(train_model, batch, pad).mean()
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync(device)
        return loss.item()

    train_step()  # warm-up, allocates AdamW's state
    t0 = time.perf_counter()
    losses = [train_step() for _ in range(steps)]
    return train_model, (time.perf_counter() - t0) / steps, losses


def main(argv=None) -> int:
    args = parse_args(argv)

    import numpy as np
    import torch
    from scoring_speed import synthetic_pool

    from harness.generation.sampling import sample_responses
    from reward_models.lm.loading import pad_id
    from reward_models.lm.logprobs import encode_pool, step_logps
    from tasks.arith.tokenizer import build_tokenizer

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = getattr(torch, args.dtype)
    cpu_model, tok, what = pick_model(args, build_tokenizer())
    pad = pad_id(tok)
    pool = synthetic_pool(args.problems, args.responses)
    encs = encode_pool(tok, pool)
    n_tokens = sum(len(e.ids) for e in encs)
    resp_tokens = sum(len(e.ids) - e.prompt_len for e in encs)
    ref = step_logps(cpu_model, encs, pad, batch_size=args.batch_size, progress=False)  # float32 on the CPU

    model = cpu_model.to(device=device, dtype=dtype)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t_bare, t_scorer, t_shared = time_scoring(model, encs, pad, args.batch_size, args.repeats, device)
    got = step_logps(model, encs, pad, batch_size=args.batch_size, progress=False)
    agreement = agreement_of(ref, got, pool, resp_tokens)

    batch = encs[:args.batch_size]
    train_model, t_train, losses = time_training(cpu_model, batch, pad, dtype, device, args.train_steps)
    train_tokens = sum(len(e.ids) for e in batch)

    gen_model = train_model.eval().to(dtype=dtype)
    stats: dict = {}
    t0 = time.perf_counter()
    sample_responses(gen_model, tok, [p.problem for p in pool.problems[:8]], 4, temperature=1.0,
                     max_new_tokens=32 if args.quick else 128, seed=0, stats=stats)
    sync(device)
    t_gen = time.perf_counter() - t0

    n_params = sum(p.numel() for p in cpu_model.parameters())
    result = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()}"
                                                                                   " threads)",
        "dtype": args.dtype, "model": what, "params_m": round(n_params / 1e6, 2), "torch": torch.__version__,
        "pool": {"problems": len(pool.problems), "responses": pool.n_responses, "tokens": n_tokens},
        "bare_forward_tok_s": n_tokens / t_bare, "scorer_tok_s": n_tokens / t_scorer,
        "scorer_over_bare": t_scorer / t_bare, "shared_prompt_tok_s": n_tokens / t_shared,
        "agreement_vs_fp32_cpu": agreement, "tolerance": TOLERANCE,
        "train_step_s": t_train, "train_tok_s": train_tokens / t_train,
        "train_loss_finite": bool(np.isfinite(losses).all()),
        "sample_tok_s": stats.get("generated_tokens", 0) / t_gen, "peak_memory_mb": peak_memory_mb(device),
        "device_type": device.type,
    }
    result["ok"] = bool(agreement["within_tolerance"] and result["train_loss_finite"])
    print(table(result, args, what))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print("RESULT " + json.dumps(result))
    return 0 if result["ok"] else 1


def table(result: dict, args, what: str) -> str:
    """The figures as a markdown table."""
    agreement = result["agreement_vs_fp32_cpu"]
    pool = result["pool"]
    rows = [("device", result["device"]), ("model", f"{what}, {result['params_m']}M parameters, {args.dtype}"),
            ("pool", f"{pool['problems']} problems x {args.responses} responses, {pool['tokens']} tokens"),
            ("bare forward", f"{result['bare_forward_tok_s']:.0f} tokens/s"),
            ("scorer pass", f"{result['scorer_tok_s']:.0f} tokens/s ({result['scorer_over_bare']:.2f}x bare)"),
            ("scorer, shared prompts", f"{result['shared_prompt_tok_s']:.0f} tokens/s"),
            ("vs fp32 CPU", f"{agreement['mean_abs_token_diff']:.4f} nats/token mean, max "
                            f"{agreement['max_abs_sum_diff']:.3f} per response, Spearman {agreement['spearman']:.4f}, "
                            f"same best response {agreement['same_best_response']:.0%} "
                            f"({'within' if agreement['within_tolerance'] else 'OUTSIDE'} tolerance)"),
            ("training step", f"{result['train_step_s']:.3f} s, {result['train_tok_s']:.0f} tokens/s "
                              "(fwd+bwd+AdamW, autocast)"),
            ("sampling", f"{result['sample_tok_s']:.0f} new tokens/s"),
            ("peak memory", f"{result['peak_memory_mb']:.0f} MiB")]
    return "| what | measured |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)


if __name__ == "__main__":
    sys.exit(main())
