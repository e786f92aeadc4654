"""Sampling a pool for a data-backed task from any Hugging Face causal LM (for users with a model and a GPU)."""

from __future__ import annotations

from harness.pool import Pool, Problem, Response, save_pool


def generate_pool(task, args) -> Pool:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.sampling import sample_responses

    if args.threads:
        torch.set_num_threads(args.threads)
    model = AutoModelForCausalLM.from_pretrained(args.model, use_safetensors=True, trust_remote_code=False)
    tok = AutoTokenizer.from_pretrained(args.model)
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    problems = task.problems(args.split)[: args.limit]
    texts = sample_responses(model, tok, [p.problem for p in problems], args.n, temperature=args.temperature,
                             max_new_tokens=args.max_new_tokens, seed=args.seed, batch_rows=max(args.n, 64))
    recs = [Problem(p.id, p.problem, p.reference, [Response(t) for t in ts],
                    {"task": task.name, "generator": str(args.model), "temperature": args.temperature})
            for p, ts in zip(problems, texts)]
    pool = Pool(recs)
    save_pool(pool, args.output)
    return pool
