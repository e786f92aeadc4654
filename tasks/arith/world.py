"""Build the embedded arith world: splits, three trained generators, graded candidate pools, RM-training rollouts.

Everything lives under <cache>/arith/<world key>/, the key hashing the whole WorldConfig, so a different seed or
scale is a different world and a finished step is never redone:

    world.json                      config, generator statistics, timings
    generators/{weak,mid,strong}/   Hugging Face checkpoints (safetensors + tokenizer)
    pools/test-<gen>.jsonl          N samples for each test problem, graded
    pools/rm_train-mid.jsonl        rollouts of the RM-training instructions from the middle generator
    pools/rm_val-mid.jsonl          the same for a validation split (hyper-parameters are chosen there, not on test)
    chunks/                         finished sampling chunks, so an interrupted build resumes where it stopped

Pools and chunks carry a checksum sidecar and generator folders a manifest (harness.cache): a damaged one is reported,
removed and rebuilt, never used; entries from before checksums are accepted and adopted. With threads >= 2 in one
process, the chunks of all pools are sampled by that many single-thread worker processes. Under torchrun, `generate`
passes sharded=True: rank 0 trains the generators, every rank samples its share of each pool's chunks (chunk c goes
to rank c % world size; each chunk has its own seed, so the merged pool is the same bytes as one process writes).

The three generators are checkpoints of one training run (kept every 5 steps, evaluated every 25, bisected near each
target), chosen by validation pass@1 closest to the paper's
Mistral-7B / Llama-3.1-8B / Llama-3.1-70B pass@1 on MATH-500 (9.6% / 44.6% / 63.2%). Their errors are the models'
own: a wrong intermediate result propagates to a wrong answer; no label is injected.
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness import cache
from harness.pool import Pool, Problem, Response, load_pool_checked, parse_record, save_pool_checked

# 5: arith generators sample through harness.fast_decode (transformers 5 had disabled it)
# 6: generators are "small_mqa" (3 layers, one kv head) instead of "small" (4 layers, four): the cold build of v5
#    took 16 min, half of it sampling, and the cheaper decoder brings it within the 10 minutes
# 7: generators learn a distribution over correct texts (tasks.arith.grammar: step orders, operand orders, surface
#    forms); v6's correct responses were 3-5% distinct within a problem, real pools' 80-90%. Sampling seeds depend on
#    the split. Frozen and shipped in tasks/arith/data/ (tasks.arith.frozen).
WORLD_VERSION = 7
GENERATORS = ("weak", "mid", "strong")
PAPER_PASS1 = {"weak": 0.096, "mid": 0.446, "strong": 0.632}  # Mistral-7B, Llama-3.1-8B, Llama-3.1-70B on MATH-500
CHUNK = 50  # problems per sampling chunk: the unit of resuming, sharding and worker jobs (and of seeds)


@dataclass
class WorldConfig:
    scale: str = "default"
    seed: int = 0
    model_size: str = "small_mqa"
    # v6 reached the strong target only at step 975 of 1,000 on one canonical text per problem; a distribution over
    # correct texts is more to learn, so the schedule is longer and training stops once past the targets.
    train_steps: int = 2000
    batch_size: int = 64
    lr: float = 3e-3
    warmup_steps: int = 50
    # Validation pass@1 climbs ~30 points per 100 steps in the middle of training (world v5: 39% at step 725, 52.5% at
    # 750), so checkpoints 100 steps apart missed the middle target (34.6% test pass@1 against 44.6 +-8).
    eval_every: int = 25
    # Weights are kept every snapshot_every steps; after training, the checkpoints between two evaluated ones that
    # straddle a target are bisected (a few more validation passes), so a generator lands within a few points.
    snapshot_every: int = 5
    # Stop once validation pass@1 is past the highest target and moving away from it (see _past_targets).
    stop_early: bool = True
    n_test: int = 500
    n_rm_train: int = 2000
    # Validation picks the generators. Its problems, not its samples, were the larger noise: in a trial of this world
    # with 200 problems x 2 samples the middle checkpoint read 44.8% on validation and 56.2% on test (47.2% over
    # 8 samples of the same 200 problems), so the same budget is spent on twice the problems, one sample each.
    n_val: int = 400
    n_train: int = 100_000
    samples_per_test: int = 64
    rollouts_per_rm: int = 8
    val_samples: int = 1
    temperature: float = 0.5
    max_new_tokens: int = 200
    min_ops: int = 2
    max_ops: int = 5
    targets: dict = field(default_factory=lambda: dict(PAPER_PASS1))
    threads: int = 2

    def __post_init__(self):
        if self.snapshot_every < 1 or self.eval_every % self.snapshot_every:
            from harness.errors import InputError
            raise InputError(f"eval_every {self.eval_every} is not a multiple of snapshot_every {self.snapshot_every}",
                             field="eval_every", expected="a multiple of snapshot_every (validation runs on snapshots)")

    def key(self) -> str:
        d = asdict(self)
        d.pop("threads")  # does not change results, only speed
        return f"{self.scale}-s{self.seed}-" + cache.stable_hash([WORLD_VERSION, d], 10)


SCALES = {
    "default": {},
    # Seconds, for tests: a 24k-parameter model barely trained; statistics mean nothing, the machinery is real.
    "smoke": dict(model_size="nano", train_steps=60, batch_size=16, eval_every=20, warmup_steps=5, n_test=12,
                  n_rm_train=16, n_val=8, n_train=500, samples_per_test=8, rollouts_per_rm=4, val_samples=2,
                  max_new_tokens=120, lr=5e-3, snapshot_every=5),
}


def world_config(scale: str = "default", seed: int = 0, **overrides) -> WorldConfig:
    from harness.errors import InputError
    if scale not in SCALES:
        raise InputError(f"unknown scale '{scale}'", field="--scale", expected="one of " + ", ".join(SCALES))
    return WorldConfig(scale=scale, seed=seed, **{**SCALES[scale], **overrides})


def world_dir(cfg: WorldConfig) -> Path:
    return cache.root() / "arith" / cfg.key()


def splits(cfg: WorldConfig) -> dict:
    """Disjoint splits; the test split is drawn first so it never depends on the sizes of the others."""
    from tasks.arith.problems import generate_problems
    out, seen = {}, set()
    for i, (name, n) in enumerate([("test", cfg.n_test), ("rm_train", cfg.n_rm_train), ("val", cfg.n_val),
                                   ("train", cfg.n_train)]):
        out[name] = generate_problems(cfg.seed * 1000 + i, n, cfg.min_ops, cfg.max_ops, prefix=f"{name}/",
                                      exclude=seen)
        seen |= {p.expression for p in out[name]}
    return out


def is_built(cfg: WorldConfig) -> bool:
    return (world_dir(cfg) / "world.json").exists()


def load_world(cfg: WorldConfig) -> dict | None:
    """The world's summary; None when it is missing or damaged (reported; build_world then rebuilds what is missing)."""
    return cache.read_json_checked(world_dir(cfg) / "world.json", "rebuilding the world")


def pool_path(cfg: WorldConfig, split: str, generator: str) -> Path:
    return world_dir(cfg) / "pools" / f"{split}-{generator}.jsonl"


def world_pool_paths(cfg: WorldConfig) -> list[Path]:
    return [pool_path(cfg, "test", g) for g in GENERATORS] + [pool_path(cfg, s, "mid") for s in ("rm_train", "rm_val")]


def build_world(cfg: WorldConfig, log=print, sharded: bool = False) -> dict:
    """Build whatever is missing and return the world's summary (also saved as world.json).

    A built world is checked on every call (each pool against its checksum, once per process): a damaged pool is
    reported, removed and sampled again (from its finished chunks when they are intact), and the recorded summary
    stands, since the same seed gives the same pool. sharded=True (every rank of a torchrun world calls it): rank 0
    trains, the ranks share the sampling, rank 0 writes; every rank returns the summary.
    """
    from harness import distributed
    world = distributed.current() if sharded else distributed.World()
    root = world_dir(cfg)
    summary, intact = None, False
    if world.is_main:
        summary = load_world(cfg) if is_built(cfg) else None
        # Lists, not generators: every damaged entry is reported and removed, not only the first. The generators are
        # checked too: `run` trains reward models from the mid one. Each file is hashed once per process (the
        # fingerprint of the mid generator as a base model reuses the hash).
        intact = summary is not None and all([cache.check_file(p, "regenerating it") for p in world_pool_paths(cfg)])
        intact = intact and all([cache.check_dir(generator_path(cfg, g), "retraining the generators")
                                 for g in GENERATORS])
    if _agree(world, intact):
        return _agree(world, summary)  # warm: no torch import, well under a second
    import torch
    torch.set_num_threads(cfg.threads)
    t0 = time.time()
    sp = splits(cfg)
    timings = {}
    with distributed.main_first() if world.active else contextlib.nullcontext():
        gens = _train_generators(cfg, sp, root, log)
    timings["train_generators_s"] = round(time.time() - t0, 1)
    stats = {}
    pool_specs = [(sp["test"], name, "test", cfg.samples_per_test) for name in GENERATORS]
    pool_specs += [(sp["rm_train"], "mid", "rm_train", cfg.rollouts_per_rm), (sp["val"], "mid", "rm_val",
                                                                               cfg.rollouts_per_rm)]
    if not world.active and cfg.threads >= 2:
        t = time.time()
        _sample_chunks_in_workers(cfg, pool_specs, log)
        timings["sample_in_workers_s"] = round(time.time() - t, 1)
    for name in GENERATORS:
        t = time.time()
        pool = _sample_pool(cfg, sp["test"], name, "test", cfg.samples_per_test, log, world=world)
        timings[f"pool_{name}_s"] = round(time.time() - t, 1)
        if world.is_main:
            stats[name] = {**gens[name], **pool_stats(pool)}
    t = time.time()
    rm_stats = {}
    for problems, _, split, n in pool_specs[len(GENERATORS):]:
        pool = _sample_pool(cfg, problems, "mid", split, n, log, world=world)
        if world.is_main:
            rm_stats[f"{split}-mid"] = pool_stats(pool)
    timings["rm_rollouts_s"] = round(time.time() - t, 1)
    timings["total_s"] = round(time.time() - t0, 1)
    if world.is_main and summary is None:
        summary = {"key": cfg.key(), "config": asdict(cfg), "generators": stats, "rm_pools": rm_stats,
                   "timings": timings, "pools": {p.stem: str(p) for p in sorted((root / "pools").glob("*.jsonl"))},
                   "content_key": built_key(cfg)}
        cache.write_json_checked(root / "world.json", summary, indent=2)
    return _agree(world, summary)


def _agree(world, value):
    """Rank 0's `value` on every rank (the value itself in one process)."""
    if not world.active:
        return value
    from harness import distributed
    return distributed.broadcast_json(value)


def _train_generators(cfg: WorldConfig, sp: dict, root: Path, log) -> dict:
    """One training run; the checkpoint with validation pass@1 closest to each target becomes that generator."""
    import copy

    from harness import progress as progress_mod

    from tasks.arith.model import make_model
    from tasks.arith.problems import is_correct
    from harness.sampling import sample_responses
    from tasks.arith.tokenizer import build_tokenizer
    from tasks.arith.train_generator import GeneratorTrainConfig, train_generator

    gdir = root / "generators"
    done = {g: gdir / g / "generator.json" for g in GENERATORS}
    # One training run makes all three: a damaged one (reported, removed) means training again. A list, so every
    # damaged folder is reported.
    if all([cache.check_dir(gdir / g, "retraining the generators") for g in GENERATORS]) and \
            all(p.exists() for p in done.values()):
        return {g: cache.read_json(p) for g, p in done.items()}
    tok = build_tokenizer()
    model = make_model(tok, cfg.model_size, seed=cfg.seed)
    val = sp["val"]
    states: dict[int, dict] = {}              # every snapshot_every steps (cheap: 1.8 MB each)
    acc: dict[int, float] = {}                # validation pass@1 of the evaluated ones, in training order

    def val_pass1(step, m):
        outs = sample_responses(m, tok, [p.problem for p in val], cfg.val_samples, temperature=cfg.temperature,
                                max_new_tokens=cfg.max_new_tokens, seed=cfg.seed + step)
        acc = sum(is_correct(o, p.answer) for p, os in zip(val, outs) for o in os) / (len(val) * cfg.val_samples)
        log(f"  step {step}: validation pass@1 {acc:.3f}")
        return acc

    def on_snapshot(step, m):
        states[step] = copy.deepcopy(m.state_dict())
        if step % cfg.eval_every and step != cfg.train_steps:
            return False
        acc[step] = val_pass1(step, m)
        return cfg.stop_early and _past_targets(list(acc.values()), max(cfg.targets.values()))

    tcfg = GeneratorTrainConfig(steps=cfg.train_steps, batch_size=cfg.batch_size, lr=cfg.lr,
                                warmup_steps=cfg.warmup_steps, eval_every=cfg.snapshot_every, seed=cfg.seed)
    log(f"training the arith generators ({sum(p.numel() for p in model.parameters()):,} parameters, "
        f"{cfg.train_steps} steps)")
    with progress_mod.bar(cfg.train_steps, "train generators", "step") as bar:
        train_generator(model, tok, sp["train"], tcfg, on_eval=on_snapshot, progress=bar)

    def evaluate(step):
        model.load_state_dict(states[step])
        return val_pass1(step, model)

    for g in GENERATORS:  # pass@1 can climb 13 points in 25 steps: bisect on the snapshots in between
        _bisect_target(acc, cfg.targets[g], sorted(states), evaluate)
    out = {}
    used: set[int] = set()
    for g in GENERATORS:
        target = cfg.targets[g]
        # Later checkpoints are preferred on ties; each generator gets a distinct checkpoint.
        cands = [s for s in acc if s not in used] or list(acc)
        step = min(cands, key=lambda s: (abs(acc[s] - target), -s))
        used.add(step)
        model.load_state_dict(states[step])
        meta = {"name": g, "step": step, "val_pass@1": acc[step], "target_pass@1": target,
                "parameters": sum(p.numel() for p in model.parameters()), "size": cfg.model_size,
                "curve": [[s, acc[s]] for s in sorted(acc)]}
        with cache.atomic_dir(gdir / g) as tmp:
            model.save_pretrained(tmp, safe_serialization=True)
            tok.save_pretrained(tmp)
            (tmp / "generator.json").write_text(json.dumps(meta, indent=2))
            cache.write_manifest(tmp)
        out[g] = meta
    return out


def _bisect_target(acc: dict[int, float], target: float, steps: list[int], evaluate) -> None:
    """Evaluate saved checkpoints between the first two evaluated ones that straddle `target` (acc[a] < target <=
    acc[b]) until they are neighbours among `steps`; `acc` (step -> validation pass@1) gains the new evaluations."""
    ev = sorted(acc)
    pair = next(((a, b) for a, b in zip(ev, ev[1:]) if acc[a] < target <= acc[b]), None)
    while pair is not None:
        a, b = pair
        inside = [s for s in steps if a < s < b]
        if not inside:
            return
        m = inside[len(inside) // 2]
        acc[m] = evaluate(m)
        pair = (m, b) if acc[m] < target else (a, m)


def _past_targets(curve: list[float], top: float, margin: float = 0.05) -> bool:
    """True when later checkpoints cannot be chosen: the last one is above the highest target by more than `margin`
    and farther from it than the closest so far (pass@1 keeps rising with training, so later ones are farther still).
    Saves the last ~15% of training steps, which no generator uses."""
    last = curve[-1]
    best = min(abs(a - top) for a in curve)
    return last > top + margin and last - top > best


def generator_path(cfg: WorldConfig, name: str) -> Path:
    return world_dir(cfg) / "generators" / name


def _sample_pool(cfg: WorldConfig, problems, gen: str, split: str, n: int, log, chunk: int = CHUNK,
                 world=None) -> Pool | None:
    """Sample, grade, and save a pool; chunks are cached so an interrupted run resumes.

    Chunk c (problems [50c, 50c + 50)) is sampled with its own seed (chunk_seed), whoever samples it: under a sharded
    build rank r samples chunks c % size == r, and rank 0 merges (the others return None).
    """
    import sys

    from harness import distributed
    world = world or distributed.World()
    path = pool_path(cfg, split, gen)
    found = load_pool_checked(path) if world.is_main else None
    if _agree(world, found is not None):
        return found
    cdir = _chunk_dir(cfg, split, gen)
    starts = list(range(0, len(problems), chunk))
    parts: dict[int, list[Problem]] = {}
    if world.is_main:
        for c0 in starts:
            cpath = _chunk_path(cdir, c0)
            part = load_pool_checked(cpath, "sampling it again") if cpath.exists() else None
            if part is not None:
                parts[c0] = part.problems
    todo = _agree(world, [c0 for c0 in starts if c0 not in parts])
    mine = world.mine(todo)
    computed: dict[str, list[dict]] = {}
    if mine:
        from harness import progress as progress_mod

        model, tok = load_generator(generator_path(cfg, gen))
        with progress_mod.bar(sum(len(problems[c0:c0 + chunk]) for c0 in mine), f"sample {split} {gen} x{n}",
                              "problem") as bar:
            for c0 in mine:
                part = problems[c0:c0 + chunk]
                recs = _sample_chunk(cfg, model, tok, part, gen, split, n, c0, cdir)
                computed[str(c0)] = [r.to_dict() for r in recs]
                bar.update(len(part))
    gathered = distributed.gather_json(computed) if world.active else [computed]
    if not world.is_main:
        return None
    for share in gathered:  # records go through JSON whoever sampled them, so the bytes never depend on that
        parts.update({int(c0): [parse_record(d, path) for d in recs] for c0, recs in share.items()})
    if world.active and todo:
        print(f"[generate] {split}-{gen}: {len(todo)} chunks sampled by {world.size} processes ("
              + ", ".join(f"rank {r}: {len(s)}" for r, s in enumerate(gathered)) + ")", file=sys.stderr)
    pool = Pool([p for c0 in starts for p in parts[c0]])
    save_pool_checked(pool, path)
    return Pool(pool.problems, path)


def _chunk_dir(cfg: WorldConfig, split: str, gen: str) -> Path:
    return world_dir(cfg) / "chunks" / f"{split}-{gen}"


def _chunk_path(cdir: Path, c0: int) -> Path:
    return cdir / f"{c0:06d}.jsonl"


def load_generator(gpath: Path):
    """(LlamaForCausalLM in float32, tokenizer) of a generator folder."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM
    return (LlamaForCausalLM.from_pretrained(gpath, use_safetensors=True, dtype=torch.float32),
            AutoTokenizer.from_pretrained(gpath))


def _sample_chunk(cfg: WorldConfig, model, tok, part, gen: str, split: str, n: int, c0: int, cdir: Path) -> list:
    """Sample, grade and save chunk c0 (its own seed: the bytes do not depend on who samples it, or with how many
    threads: float32 CPU sampling here gives the same tokens at 1 and 2 threads, checked on the default world)."""
    from harness.sampling import sample_responses
    from tasks.arith.problems import first_error_step, grade

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


def _sample_chunks_in_workers(cfg: WorldConfig, pool_specs: list, log, chunk: int = CHUNK) -> None:
    """Sample every missing chunk of the pools in `pool_specs` [(problems, generator, split, n)] in cfg.threads
    single-thread processes, leaving chunk files that _sample_pool then merges.

    Decoding these tiny models is bound by per-op overhead and by reading the KV cache, which a second thread in
    one process barely shares: measured here, one process sampled 150 responses/s at 2 threads, two 1-thread
    processes 221 together. Chunks of all pools form one queue, so no worker idles at the end of a pool.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from harness import progress as progress_mod

    jobs = []
    for problems, gen, split, n in pool_specs:
        if pool_path(cfg, split, gen).exists():
            continue  # _sample_pool checks it (and resamples a damaged one itself)
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


def pool_stats(pool: Pool) -> dict:
    import numpy as np
    correct = [np.array([r.correct for r in p.responses], dtype=float) for p in pool.problems]
    from harness.steps import split_steps
    n_steps = [len(split_steps(r.text)) for p in pool.problems for r in p.responses]
    err = [r.extra.get("error_step") for p in pool.problems for r in p.responses if not r.correct]
    err_hist: dict[str, int] = {}
    for e in err:
        k = "none" if e is None else str(e)
        err_hist[k] = err_hist.get(k, 0) + 1
    from harness.pool import distinct_ratios
    distinct = distinct_ratios(pool)
    return {"problems": len(pool), "responses": pool.n_responses,
            "distinct_correct": distinct["correct"], "distinct_wrong": distinct["wrong"],
            "pass@1": float(np.mean([c.mean() for c in correct])),
            "pass@N": float(np.mean([c.max() for c in correct])),
            "mean_steps": float(np.mean(n_steps)),
            "first_error_step": dict(sorted(err_hist.items()))}


@dataclass
class WorldFiles:
    """Where the world `run` evaluates lives: the shipped one (tasks.arith.frozen) or one built in the cache."""
    key: str                 # content key: names what was built, recorded by runs and tunings
    summary: dict
    frozen: bool
    config: WorldConfig

    def pool(self, split: str, generator: str) -> Path:
        if self.frozen:
            from tasks.arith import frozen
            return frozen.pool_path(f"{split}-{generator}")
        return pool_path(self.config, split, generator)

    def generator(self, name: str) -> Path:
        if self.frozen:
            from tasks.arith import frozen
            return frozen.generator_path(name)
        return generator_path(self.config, name)


def uses_frozen(cfg: WorldConfig) -> bool:
    """True when the shipped world is this config's build (the default scale and seed)."""
    from tasks.arith import frozen
    return frozen.is_shipped() and frozen.summary()["key"] == cfg.key()


def open_world(cfg: WorldConfig, rebuild: bool = False, log=print, sharded: bool = False) -> WorldFiles:
    """The shipped world when it is this config's and `rebuild` is False (checksums verified; nothing is trained
    or sampled), else the world built in the cache (built now if missing)."""
    if not rebuild and uses_frozen(cfg):
        from tasks.arith import frozen
        m = frozen.verify()
        return WorldFiles(m["content_key"], frozen.summary(), True, cfg)
    if not is_built(cfg):
        log(f"[world] building the arith world ({cfg.scale} scale, seed {cfg.seed}) under {cache.root()}; finished "
            "steps are kept if interrupted")
    summary = build_world(cfg, log=log, sharded=sharded)
    return WorldFiles(summary.get("content_key") or built_key(cfg), summary, False, cfg)


def world_pools(cfg: WorldConfig) -> dict[str, Path]:
    """Pool name ("test-mid", "rm_train-mid", ...) -> its file in the world built in the cache."""
    return {p.name[:-len(".jsonl")]: p for p in world_pool_paths(cfg)}


def world_generators(cfg: WorldConfig) -> dict[str, Path]:
    return {g: generator_path(cfg, g) for g in GENERATORS}


def built_key(cfg: WorldConfig) -> str:
    """The content key of the world built in the cache for `cfg` (see tasks.arith.frozen.content_key)."""
    from tasks.arith import frozen
    return frozen.built_content_key(world_pools(cfg), world_generators(cfg))
