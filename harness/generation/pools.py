"""Sampling a pool for a data-backed task from any Hugging Face causal LM (for users with a model and a GPU).

The problems go in chunks of `--chunk-problems` consecutive problems (harness.core.chunks.plan_chunks). Each chunk draws
from its own generator, seeded from (--seed, the chunk's first problem), so a chunk's samples do not depend on who
samples it or on what was sampled before: under torchrun rank r samples the chunks c with c % world size == r, rank
0 merges, and the pool is the same bytes as one process writes. The first chunk keeps --seed itself, so a pool of
one chunk is what versions before chunking wrote; for a longer pool, chunks after the first differ from those
versions (they drew everything from one generator, so chunk k's samples depended on every earlier chunk's, which no
split of the work can reproduce). The chunk size is part of what the samples are: keep it to reproduce a pool.

Finished chunks are kept (checksummed) under <cache>/generate/<key>/ until the pool is written, so an interrupted
run resumes where it stopped.
"""

from __future__ import annotations

from harness.core import cache, chunks, distributed, jobs
from harness.core.fingerprint import fingerprint
from harness.core.pool import Pool, Problem, Response, save_pool

DEFAULT_CHUNK_PROBLEMS = 32


def chunk_seed(seed: int, start: int) -> int:
    """The seed of the chunk starting at problem `start`: --seed for the first chunk, a hash of both for the rest."""
    return seed if start == 0 else int(cache.stable_hash(["generate-chunk", seed, start], 15), 16)


def generate_pool(task, args) -> Pool | None:
    """Sample and write args.output; every rank of a torchrun world calls it, rank 0 writes and returns the pool
    (the others return None)."""
    # lazy: these load torch and transformers (seconds); light commands must not pay that
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.generation.sampling import sample_responses

    if args.threads:
        torch.set_num_threads(args.threads)
    problems = task.problems(args.split)[: args.limit]
    size = getattr(args, "chunk_problems", None) or DEFAULT_CHUNK_PROBLEMS
    spans = chunks.plan_chunks(len(problems), size)
    identity = {"model": fingerprint(args.model), "task": task.name, "split": args.split, "n": args.n,
                "temperature": args.temperature, "max_new_tokens": args.max_new_tokens, "seed": args.seed,
                "chunk_problems": size, "problems": cache.stable_hash([[p.id, p.problem] for p in problems])}
    device, dtype = getattr(args, "device", None) or "cpu", getattr(args, "dtype", None) or "float32"
    if (device, dtype) != ("cpu", "float32"):  # other arithmetic, other samples (CPU float32 keys are unchanged)
        identity.update(device=torch.device(device).type, dtype=dtype)
    key = cache.stable_hash(identity)
    job = jobs.ChunkedJob(label="[generate]", spans=spans, keys=[cache.stable_hash([key, span]) for span in spans],
                          store=chunks.ChunkStore(cache.entry("generate", key)), product=str(args.output),
                          bar="sample", verb="sampled")

    def start():
        model = AutoModelForCausalLM.from_pretrained(args.model, use_safetensors=True, trust_remote_code=False,
                                                     dtype=getattr(torch, dtype)).to(device).eval()
        tok = AutoTokenizer.from_pretrained(args.model)
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        return lambda span: sample_responses(model, tok, [p.problem for p in problems[span[0]:span[1]]], args.n,
                                             temperature=args.temperature, max_new_tokens=args.max_new_tokens,
                                             seed=chunk_seed(args.seed, span[0]), batch_rows=max(args.n, 64))

    def finish(texts: list[list[list[str]]]) -> Pool:
        recs = [Problem(p.id, p.problem, p.reference, [Response(t) for t in ts],
                        {"task": task.name, "generator": str(args.model), "temperature": args.temperature})
                for p, ts in zip(problems, (ts for share in texts for ts in share))]
        pool = Pool(recs, args.output)
        save_pool(pool, args.output)
        return pool
    return jobs.run(job, start, finish, world=distributed.current())
