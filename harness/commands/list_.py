"""`harness list`: what is registered and what is already in the cache."""

from __future__ import annotations

import dataclasses
import json
import typing

from tabulate import tabulate

from harness.cli import arguments, command
from harness.commands.generate import describe_world
from harness.core import cache
from harness.core.options import defaults, field_help
from harness.importers import IMPORTERS
from harness.paper.recipes import ABLATIONS, main_experiments, seed_experiments
from reward_models import REWARD_MODELS, default_aggregation
from reward_models.training.flops import ratios_to
from tasks import TASKS, world_tasks


def _add(p):
    p.add_argument("--format", default="table", choices=["table", "json"])
    p.add_argument("--rm", default=None, metavar="NAME",
                   help="one reward model: what it is, its paper row, and every option `--set` takes (its Config)")


def describe_rm(name: str) -> dict:
    """What `--set` accepts for reward model `name`, read from its Config dataclass, and where the paper runs it."""
    cls = REWARD_MODELS.get(name)
    aggregation, source = default_aggregation(name)
    hints, default, helps = typing.get_type_hints(cls.Config), defaults(cls.Config), field_help(cls.Config)
    opts = [{"option": f.name, "type": getattr(hints[f.name], "__name__", str(hints[f.name])),
             "default": default.get(f.name), "help": helps[f.name]} for f in dataclasses.fields(cls.Config)]
    return {"name": name, "about": (cls.__doc__ or "").strip().split("\n")[0], "trainable": cls.trainable,
            "paper_row": cls.paper_row, "aggregation": aggregation, "aggregation_source": source, "options": opts}


def cached_worlds() -> list[dict]:
    """The shipped arith world (first) and the worlds built in the cache."""
    return [w for task in world_tasks() for w in task.worlds()]


def cached_checkpoints() -> list[dict]:
    out = []
    for cfg in sorted((cache.root() / "checkpoints").glob("*/train_config.json")):
        d = {"checkpoint": cfg.parent.name}
        for extra in ("compute.json", "metrics.json", "train_config.json"):
            p = cfg.parent / extra
            if p.exists():
                try:
                    d[extra.split(".")[0]] = json.loads(p.read_text())
                except ValueError:
                    pass
        out.append(d)
    return out


def cached_scores() -> list[dict]:
    out = []
    for f in sorted((cache.root() / "scores").glob("*/*.json")):
        out.append({"pool_hash": f.parent.name, "score_set": f.stem})
    return out


def cached_search_pools() -> list[dict]:
    """The search pools of `harness search` (their first record's meta names the search)."""
    out = []
    for f in sorted((cache.root() / "search").glob("*.jsonl")):
        try:
            with f.open(encoding="utf-8") as fh:
                lines = fh.readlines()
            meta = json.loads(lines[0]).get("meta", {})
        except (OSError, ValueError, IndexError):
            continue  # damaged: `search` reports and redoes it
        s = meta.get("search", {})
        out.append({"pool": str(f), "generator": meta.get("generator"), "method": s.get("method"), "n": s.get("n"),
                    "expand": s.get("expand"), "rm": s.get("rm"), "problems": len(lines)})
    return out


@command("list", "registered tasks, reward models and import formats, and what is cached")
@arguments(_add)
def run(args) -> int:
    if args.rm:
        d = describe_rm(args.rm)
        if args.format == "json":
            print(json.dumps(d, indent=2, default=str))
            return 0
        print(f"{d['name']}: {d['about']}")
        print(("trained" if d["trainable"] else "untrained") + "; " + (
            f"a main experiment of `tables` and the tox env `{d['name']}` (paper row {d['paper_row']:g})"
            if d["paper_row"] is not None else "no main experiment (give it a checkpoint: --set model=PATH)"))
        print(f"default aggregation of `run`: {d['aggregation']} ({d['aggregation_source']}); --aggregation "
              "overrides")
        steps = next((o for o in d["options"] if o["option"] == "steps"), None)
        if steps is not None:
            print(f"steps: {steps['default']} by default; --set steps=publisher scores the release's own steps "
                  "(recorded with the run and its scores)")
        print("\n" + tabulate([[o["option"], o["type"], o["default"], o["help"]] for o in d["options"]],
                               ["--set KEY", "type", "default", "help"], tablefmt="simple"))
        return 0
    main, seeded = [e.label for e in main_experiments()], [e.label for e in seed_experiments()]
    info = {"cache": str(cache.root()), "tasks": TASKS.names(), "reward_models": REWARD_MODELS.names(),
            "import_formats": IMPORTERS.names(), "worlds": cached_worlds(), "checkpoints": cached_checkpoints(),
            "score_sets": cached_scores(), "search_pools": cached_search_pools(),
            "experiments": {"main": main, "seeds": seeded, "ablations": [e.label for e in ABLATIONS]}}
    if args.format == "json":
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"cache: {info['cache']}")
    print("tasks:         " + ", ".join(info["tasks"]))
    print("reward models: " + ", ".join(info["reward_models"]))
    print("import formats: " + ", ".join(info["import_formats"]))
    print(f"paper experiments (`tables`, tox envs): {', '.join(main)}; {len(seeded)} runs of other training seeds; "
          f"{len(ABLATIONS)} ablations "
          "(harness/paper/recipes.py); `list --rm NAME` shows a reward model's options")
    if not info["worlds"]:
        print("\nno arith world shipped or built: python -m harness generate --task arith --rebuild")
    for w in info["worlds"]:
        print("\n" + describe_world(w, bool(w.get("shipped"))))
    if info["checkpoints"]:
        ratios = ratios_to(info["checkpoints"])  # the paper's Figure 2: development cost relative to implicit CE
        rows = []
        for c in info["checkpoints"]:
            comp = c.get("compute", {})
            ratio = ratios.get(c["checkpoint"])
            rows.append([c["checkpoint"], f"{comp['total_flops']:.3g}" if "total_flops" in comp else "-",
                         f"{ratio:.2f}x" if ratio is not None else "-"])
        print("\n" + tabulate(rows, ["reward-model checkpoint", "development FLOPs", "per instruction vs implicit_ce"],
                               tablefmt="simple"))
    print(f"\n{len(info['score_sets'])} cached score sets over "
          f"{len({s['pool_hash'] for s in info['score_sets']})} pools")
    if info["search_pools"]:
        rows = [[p["generator"], p["method"], p["n"], p["expand"], p["rm"] or "-", p["problems"]]
                for p in info["search_pools"]]
        print("\n" + tabulate(rows, ["search pool: generator", "method", "N", "M", "guide", "problems"],
                               tablefmt="simple"))
    return 0
