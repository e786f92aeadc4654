"""Cold and warm build time of the arith world, and its statistics written to results/arith_world.md.

    python benchmarks/world_build.py                    # default scale in a fresh temporary cache (~9.3 min here)
    python benchmarks/world_build.py --scale smoke      # seconds
    python benchmarks/world_build.py --cache-dir .cache/harness --report results/arith_world.md
        # reuse an existing cache (the cold figure is then the build time recorded when it was built)

Targets (issue 3): cold <= 10 min, warm <= 5 s on this machine. Since world v7 the default world is shipped
(tasks/arith/data/) and `run` builds nothing; this measures `generate --rebuild`, the build from scratch.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(cmd: list[str]) -> float:
    t = time.time()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.time() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="default")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-dir", default=None, help="default: a fresh temporary folder (a true cold build)")
    ap.add_argument("--report", default=None, help="write the world's statistics as markdown here")
    a = ap.parse_args()
    cache_dir = a.cache_dir or tempfile.mkdtemp(prefix="harness-world-")
    cmd = [sys.executable, "-m", "harness", "--cache-dir", cache_dir, "generate", "--task", "arith", "--rebuild",
           "--scale", a.scale, "--seed", str(a.seed)]
    first = timed(cmd)
    warm = timed(cmd)
    from harness.core import cache
    from tasks.arith.report import real_pool_ratios, world_markdown
    from tasks.arith.world import built_key
    from tasks.arith.world_config import load_world, world_config
    with cache.using(cache_dir):
        cfg = world_config(a.scale, a.seed)
        summary = load_world(cfg)
        summary.setdefault("content_key", built_key(cfg))  # worlds built before content keys were recorded
    cold = summary["timings"]["total_s"] if a.cache_dir else first
    print(f"scale {a.scale}: cold build {cold:.1f} s (target <= 600 s: {cold / 600:.2f}x of target), "
          f"warm {warm:.2f} s (target <= 5 s: {warm / 5:.2f}x)")
    for g, s in summary["generators"].items():
        print(f"  {g:7s} pass@1 {s['pass@1']:.3f}  pass@N {s['pass@N']:.3f}  problems {s['problems']}  "
              f"responses {s['responses']}")
    if a.report:
        cmd_text = "python benchmarks/world_build.py" + (f" --scale {a.scale}" if a.scale != "default" else "")
        data = Path(__file__).resolve().parents[1].parent / "shared" / "data"
        real = real_pool_ratios(data) if data.is_dir() else None
        Path(a.report).write_text(world_markdown(summary, cold, warm, cmd_text, real=real))
        print(f"wrote {a.report}")


if __name__ == "__main__":
    main()
