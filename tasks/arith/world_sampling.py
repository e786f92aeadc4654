"""The graded pools of an arith world: every chunk of problems sampled from a generator with its own seed, graded,
and kept on disk, so an interrupted build resumes, and the bytes never depend on which process or rank sampled it."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from harness.core import cache, distributed, jobs
from harness.core import progress as progress_mod
from harness.core.chunks import plan_chunks
from harness.core.pool import (
    Pool,
    Problem,
    Response,
    load_pool_checked,
    parse_record,
    save_pool_checked,
)
from tasks.arith.problems import first_error_step, grade
from tasks.arith.world_config import (
    CHUNK,
    WorldConfig,
    generator_path,
    pool_path,
    world_dir,
)


def agree(world, value):
    """Rank 0's `value` on every rank (the value itself in one process)."""
    if not world.active:
        return value
    return distributed.broadcast_json(value)


def sample_pool(cfg: WorldConfig, problems, gen: str, split: str, n: int, log, chunk: int = CHUNK,
                 world=None) -> Pool | None:
    """Sample, grade, and save a pool; chunks are cached so an interrupted run resumes.

    Chunk c (problems [50c, 50c + 50)) is sampled with its own seed (chunk_seed), whoever samples it: under a sharded
    build rank r samples chunks c % size == r, and rank 0 merges (the others return None).
    """
    world = world or distributed.World()
    path = pool_path(cfg, split, gen)
    found = load_pool_checked(path) if world.is_main else None
    if agree(world, found is not None):
        return found
    cdir = _chunk_dir(cfg, split, gen)
    spans = plan_chunks(len(problems), chunk)
    # chunks stay in the world's folder (shared with sample_chunks_in_workers, which leaves every chunk there before
    # this merges them, so "resuming" would be said on every build)
    job = jobs.ChunkedJob(label=f"[generate] {split}-{gen}:", spans=spans, keys=[""] * len(spans),
                          store=_PoolChunks(cdir), product=str(path), clear=False, bar=f"sample {split} {gen} x{n}",
                          verb="sampled", announce_resume=False)

    def start():
        model, tok = load_generator(generator_path(cfg, gen))
        return lambda span: [r.to_dict() for r in _sample_chunk(cfg, model, tok, problems[span[0]:span[1]], gen,
                                                                 split, n, span[0], cdir)]

    def finish(parts: list[list[dict]]) -> Pool:
        # records go through JSON whoever sampled them, so the bytes never depend on that
        pool = Pool([parse_record(d, path) for part in parts for d in part])
        save_pool_checked(pool, path)
        return Pool(pool.problems, path)
    return jobs.run(job, start, finish, world=world)


class _PoolChunks:
    """The world's chunk files as the job's store: chunk [c0, ...) is the graded pool file <c0>.jsonl, which
    _sample_chunk writes itself (the worker processes write the same files), so saving here has nothing to do."""

    def __init__(self, folder: Path):
        self.folder = folder

    def load(self, span: tuple[int, int], key: str) -> list[dict] | None:
        cpath = _chunk_path(self.folder, span[0])
        part = load_pool_checked(cpath, "sampling it again") if cpath.exists() else None
        return [p.to_dict() for p in part.problems] if part is not None else None

    def save(self, span: tuple[int, int], key: str, value) -> None:
        pass

    def clear(self) -> None:
        pass


def _chunk_dir(cfg: WorldConfig, split: str, gen: str) -> Path:
    return world_dir(cfg) / "chunks" / f"{split}-{gen}"


def _chunk_path(cdir: Path, c0: int) -> Path:
    return cdir / f"{c0:06d}.jsonl"


def load_generator(gpath: Path):
    """(LlamaForCausalLM in float32, tokenizer) of a generator folder."""
    # lazy: these load torch and transformers (seconds); light commands must not pay that
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM
    return (LlamaForCausalLM.from_pretrained(gpath, use_safetensors=True, dtype=torch.float32),
            AutoTokenizer.from_pretrained(gpath))


def _sample_chunk(cfg: WorldConfig, model, tok, part, gen: str, split: str, n: int, c0: int, cdir: Path) -> list:
    """Sample, grade and save chunk c0 (its own seed: the bytes do not depend on who samples it, or with how many
    threads: float32 CPU sampling here gives the same tokens at 1 and 2 threads, checked on the default world)."""
    from harness.generation.sampling import sample_responses  # lazy: harness.generation.sampling imports torch at load

    texts = sample_responses(model, tok, [p.problem for p in part], n, temperature=cfg.temperature,
                             max_new_tokens=cfg.max_new_tokens, seed=chunk_seed(cfg, split, c0))
    recs = []
    for p, outs in zip(part, texts):
        resps = []
        for t in outs:
            ans, ok, extra = grade(t, p.answer)
            extra["error_step"] = None if ok else first_error_step(t, p.tree)
            resps.append(Response(t, ans, ok, extra))
        recs.append(Problem(p.id, p.problem, str(p.answer), resps,
                            {"task": "arith", "generator": gen, "split": split,
                             "temperature": cfg.temperature, "world": cfg.key(), "n_steps": len(p.steps)}))
    save_pool_checked(recs, _chunk_path(cdir, c0))
    return recs


def chunk_seed(cfg: WorldConfig, split: str, c0: int) -> int:
    """The sampling seed of the chunk starting at problem c0 of `split`: distinct per split (world <= 6 gave the
    first chunk of every split the same seed), the same whoever samples it."""
    return int(cache.stable_hash(["chunk-seed", cfg.seed, split, c0], 12), 16)


def sample_chunks_in_workers(cfg: WorldConfig, pool_specs: list, log, chunk: int = CHUNK) -> None:
    """Sample every missing chunk of the pools in `pool_specs` [(problems, generator, split, n)] in cfg.threads
    single-thread processes, leaving chunk files that sample_pool then merges.

    Decoding these tiny models is bound by per-op overhead and by reading the KV cache, which a second thread in
    one process barely shares: measured here, one process sampled 150 responses/s at 2 threads, two 1-thread
    processes 221 together. Chunks of all pools form one queue, so no worker idles at the end of a pool.
    """
    jobs = []
    for problems, gen, split, n in pool_specs:
        if pool_path(cfg, split, gen).exists():
            continue  # sample_pool checks it (and resamples a damaged one itself)
        cdir = _chunk_dir(cfg, split, gen)
        jobs += [(str(generator_path(cfg, gen)), problems[c0:c0 + chunk], gen, split, n, c0, str(cdir))
                 for c0 in range(0, len(problems), chunk) if not _chunk_path(cdir, c0).exists()]
    workers = min(cfg.threads, len(jobs))
    if workers < 2:
        return
    log(f"[generate] {len(jobs)} chunks to sample in {workers} processes x 1 thread")
    ctx = multiprocessing.get_context("spawn")  # not fork: a forked torch can hang in its thread pool
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init) as ex, \
            progress_mod.bar(sum(len(j[1]) for j in jobs), "sample pools", "problem") as bar:
        futures = [ex.submit(_worker_job, cfg, *job) for job in jobs]
        try:
            for f in as_completed(futures):
                bar.update(f.result())  # a worker's error stops the build; finished chunks stay cached
        except BaseException:
            ex.shutdown(cancel_futures=True)
            raise


_WORKER_GENERATORS: dict = {}


def _worker_init() -> None:
    # lazy: these load torch and transformers (seconds); light commands must not pay that
    import torch
    from transformers.utils import logging
    torch.set_num_threads(1)
    logging.disable_progress_bar()  # one "Loading weights" bar per worker and generator is noise


def _worker_job(cfg: WorldConfig, gpath: str, part, gen: str, split: str, n: int, c0: int, cdir: str) -> int:
    if gpath not in _WORKER_GENERATORS:
        _WORKER_GENERATORS[gpath] = load_generator(Path(gpath))
    model, tok = _WORKER_GENERATORS[gpath]
    _sample_chunk(cfg, model, tok, part, gen, split, n, c0, Path(cdir))
    return len(part)
