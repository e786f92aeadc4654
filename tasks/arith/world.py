"""Build the embedded arith world: splits, three trained generators, graded candidate pools, RM-training rollouts.

Everything lives under <cache>/arith/<world key>/, the key hashing the whole WorldConfig, so a different seed or
scale is a different world and a finished step is never redone:

    world.json                      config, generator statistics, timings
    generators/{weak,mid,strong}/   Hugging Face checkpoints (safetensors + tokenizer)
    pools/test-<gen>.jsonl          N samples for each test problem, graded
    pools/rm_train-mid.jsonl        rollouts of the RM-training instructions from the middle generator
    pools/rm_val-mid.jsonl          the same for a validation split (hyper-parameters are chosen there, not on test)
    chunks/                         finished sampling chunks, so an interrupted build resumes where it stopped

Pools and chunks carry a checksum sidecar and generator folders a manifest (harness.core.cache): a damaged one is
reported,
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
import copy
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from harness.core import cache, distributed
from harness.core import progress as progress_mod
from harness.core.pool import Pool, distinct_ratios
from harness.core.steps import split_steps
from tasks.arith import frozen
from tasks.arith.problems import is_correct
from tasks.arith.world_config import (
    GENERATORS,
    WorldConfig,
    generator_path,
    is_built,
    load_world,
    pool_path,
    splits,
    world_dir,
    world_pool_paths,
)
from tasks.arith.world_sampling import agree, sample_chunks_in_workers, sample_pool


def build_world(cfg: WorldConfig, log=print, sharded: bool = False) -> dict:
    """Build whatever is missing and return the world's summary (also saved as world.json).

    A built world is checked on every call (each pool against its checksum, once per process): a damaged pool is
    reported, removed and sampled again (from its finished chunks when they are intact), and the recorded summary
    stands, since the same seed gives the same pool. sharded=True (every rank of a torchrun world calls it): rank 0
    trains, the ranks share the sampling, rank 0 writes; every rank returns the summary.
    """
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
    if agree(world, intact):
        return agree(world, summary)  # warm: no torch import, well under a second
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
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
        sample_chunks_in_workers(cfg, pool_specs, log)
        timings["sample_in_workers_s"] = round(time.time() - t, 1)
    for name in GENERATORS:
        t = time.time()
        pool = sample_pool(cfg, sp["test"], name, "test", cfg.samples_per_test, log, world=world)
        timings[f"pool_{name}_s"] = round(time.time() - t, 1)
        if world.is_main:
            stats[name] = {**gens[name], **pool_stats(pool)}
    t = time.time()
    rm_stats = {}
    for problems, _, split, n in pool_specs[len(GENERATORS):]:
        pool = sample_pool(cfg, problems, "mid", split, n, log, world=world)
        if world.is_main:
            rm_stats[f"{split}-mid"] = pool_stats(pool)
    timings["rm_rollouts_s"] = round(time.time() - t, 1)
    timings["total_s"] = round(time.time() - t0, 1)
    if world.is_main and summary is None:
        summary = {"key": cfg.key(), "config": asdict(cfg), "generators": stats, "rm_pools": rm_stats,
                   "timings": timings, "pools": {p.stem: str(p) for p in sorted((root / "pools").glob("*.jsonl"))},
                   "content_key": built_key(cfg)}
        cache.write_json_checked(root / "world.json", summary, indent=2)
    return agree(world, summary)


def _train_generators(cfg: WorldConfig, sp: dict, root: Path, log) -> dict:
    """One training run; the checkpoint with validation pass@1 closest to each target becomes that generator."""
    # lazy: these load torch and transformers (seconds); light commands must not pay that
    from harness.generation.sampling import sample_responses
    from tasks.arith.model import make_model
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


def pool_stats(pool: Pool) -> dict:
    correct = [np.array([r.correct for r in p.responses], dtype=float) for p in pool.problems]
    n_steps = [len(split_steps(r.text)) for p in pool.problems for r in p.responses]
    err = [r.extra.get("error_step") for p in pool.problems for r in p.responses if not r.correct]
    err_hist: dict[str, int] = {}
    for e in err:
        k = "none" if e is None else str(e)
        err_hist[k] = err_hist.get(k, 0) + 1
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
            return frozen.pool_path(f"{split}-{generator}")
        return pool_path(self.config, split, generator)

    def generator(self, name: str) -> Path:
        if self.frozen:
            return frozen.generator_path(name)
        return generator_path(self.config, name)


def uses_frozen(cfg: WorldConfig) -> bool:
    """True when the shipped world is this config's build (the default scale and seed)."""
    return frozen.is_shipped() and frozen.summary()["key"] == cfg.key()


def open_world(cfg: WorldConfig, rebuild: bool = False, log=print, sharded: bool = False) -> WorldFiles:
    """The shipped world when it is this config's and `rebuild` is False (checksums verified; nothing is trained
    or sampled), else the world built in the cache (built now if missing)."""
    if not rebuild and uses_frozen(cfg):
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
    return frozen.built_content_key(world_pools(cfg), world_generators(cfg))
