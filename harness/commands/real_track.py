"""`harness real-track`: every run of the SmolLM2 real-model track (harness.paper.real_track), then
results/real_models.md."""

from __future__ import annotations

from harness.cli import arguments, command
from harness.core.errors import InputError
from harness.paper import real_track


def _add(p):
    p.add_argument("--stages", default="gsm8k-gpt3,processbench,ovm", help="any of gsm8k-gpt3, processbench, ovm")
    p.add_argument("--max-problems", type=int, default=100, help="gsm8k-gpt3 problems (halves A/B)")
    p.add_argument("--processbench-max", default="100", help="ProcessBench-gsm8k samples ('all' = 398)")
    p.add_argument("--ovm-k", type=int, default=64, help="completions kept per OVM problem (largest N)")
    p.add_argument("--threads", type=int, default=None, help="torch threads")
    p.add_argument("--results", default="results", help="folder for runs/*.json|md and real_models.md")
    p.add_argument("--render-only", action="store_true", help="only re-render real_models.md from the JSONs")


@command("real-track", "SmolLM2 real-model track: gsm8k-gpt3 folds, ProcessBench, OVM large N; writes real_models.md")
@arguments(_add)
def run(args) -> int:
    stages = [s for s in args.stages.split(",") if s]
    bad = [s for s in stages if s not in real_track.STAGES]
    if bad:
        raise InputError(f"unknown stage '{bad[0]}'", field="--stages", expected=", ".join(real_track.STAGES))
    pb = args.processbench_max
    if pb != "all" and (not pb.isdigit() or int(pb) < 1):
        raise InputError(f"cannot read '{pb}'", field="--processbench-max", expected="an integer >= 1 or 'all'")
    pb_max = None if pb == "all" else int(pb)
    for flag in ("max_problems", "ovm_k"):
        if getattr(args, flag) < (2 if flag == "max_problems" else 1):
            raise InputError(f"{getattr(args, flag)} is too small", field="--" + flag.replace("_", "-"))
    if args.threads is not None:
        import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
        torch.set_num_threads(args.threads)
    if not args.render_only:
        real_track.run_all(stages, args.max_problems, pb_max, args.ovm_k, args.threads, args.results)
    print(real_track.render_file(args.results, args.max_problems, pb_max, args.ovm_k))
    return 0
