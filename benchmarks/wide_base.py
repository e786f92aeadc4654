"""A wider reward-model base for the arith world: the mid generator's recipe at k x its width.

    python benchmarks/wide_base.py [--width 2] [--step 1100] [--out DIR]

The discriminative baselines (orm, orm_bt, math_shepherd, autopsv) train a value head or a step tag on the mid
generator (3 layers, 96 wide, 0.30M parameters) and rank the responses to one problem near chance. This builds the
base the question "would a wider base let them learn it?" needs: the same architecture (3 layers, 4 query heads
sharing one key/value head) at `--width` times the hidden and MLP sizes, trained exactly as the world trains its
generators (tasks.arith.train_generator: the same training split, seed, batch of 64, learning rate 3e-3 with the
2,000-step cosine schedule) and stopped at the mid generator's own step (1,100 in world v7), so it has seen the same
solutions. Its validation pass@1 (400 problems, one sample each at the world's temperature) is printed beside the
mid generator's, since a wider model learns more from the same steps.

The folder it writes (default <cache>/bases/arith-mqa-x<width>-step<step>) is an HF model folder with the world's
tokenizer and chat template, so `python -m harness run --rm orm --base DIR --label orm-wide2x` trains a baseline
on it as on the mid generator. The last line is `RESULT {json}`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from transformers import AutoTokenizer

from harness.core import cache
from harness.generation.sampling import sample_responses
from tasks.arith.model import SIZES, make_model
from tasks.arith.problems import is_correct
from tasks.arith.train_generator import GeneratorTrainConfig, train_generator
from tasks.arith.world import open_world
from tasks.arith.world_config import splits, world_config


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=2, help="multiple of the mid generator's hidden and MLP sizes")
    ap.add_argument("--step", type=int, default=None, help="stop here (default: the mid generator's step)")
    ap.add_argument("--out", default=None, help="model folder to write (default: under the cache)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    wcfg = world_config("default", 0)
    world = open_world(wcfg, log=lambda m: None)
    mid = Path(world.generator("mid"))
    meta = json.loads((mid / "generator.json").read_text())
    step = args.step or meta["step"]
    hidden, layers, heads, inter, kv = SIZES[wcfg.model_size]
    size = f"{wcfg.model_size}_x{args.width}"
    SIZES[size] = (hidden * args.width, layers, heads, inter * args.width, kv)
    out = Path(args.out) if args.out else cache.root() / "bases" / f"arith-mqa-x{args.width}-step{step}"

    tok = AutoTokenizer.from_pretrained(mid)  # the world's tokenizer and chat template, as the generators have
    model = make_model(tok, size, seed=wcfg.seed)
    n_params = sum(p.numel() for p in model.parameters())
    sp = splits(wcfg)
    tcfg = GeneratorTrainConfig(steps=wcfg.train_steps, batch_size=wcfg.batch_size, lr=wcfg.lr,
                                warmup_steps=wcfg.warmup_steps, eval_every=step, seed=wcfg.seed)
    print(f"training {size} ({n_params:,} parameters; mid: {meta['parameters']:,}) for {step} of the "
          f"{tcfg.steps}-step schedule", flush=True)
    t0 = time.perf_counter()

    class Progress:  # a line every 100 steps: this runs for many minutes in a log file
        n = 0

        def update(self, k):
            self.n += k
            if self.n % 100 == 0:
                print(f"  step {self.n}: {time.perf_counter() - t0:.0f} s", flush=True)

        def set_postfix(self, **kw):
            pass

    train_generator(model, tok, sp["train"], tcfg, on_eval=lambda s, m: s >= step, progress=Progress())
    train_s = time.perf_counter() - t0

    val = sp["val"]
    t1 = time.perf_counter()
    outs = sample_responses(model, tok, [p.problem for p in val], wcfg.val_samples, temperature=wcfg.temperature,
                            max_new_tokens=wcfg.max_new_tokens, seed=wcfg.seed + step)
    acc = sum(is_correct(o, p.answer) for p, os in zip(val, outs) for o in os) / (len(val) * wcfg.val_samples)
    val_s = time.perf_counter() - t1
    with cache.atomic_dir(out) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        (tmp / "base.json").write_text(json.dumps({"size": size, "arch": SIZES[size], "step": step,
                                                   "parameters": n_params, "val_pass@1": acc}, indent=2))
        cache.write_manifest(tmp)
    res = {"size": size, "parameters": n_params, "mid_parameters": meta["parameters"], "step": step,
           "val_pass@1": acc, "mid_val_pass@1": meta["val_pass@1"], "train_s": round(train_s, 1),
           "val_s": round(val_s, 1), "out": str(out)}
    print(f"{size}: validation pass@1 {acc:.3f} (mid generator {meta['val_pass@1']:.3f}); trained in {train_s:.0f} s")
    print("RESULT " + json.dumps(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
