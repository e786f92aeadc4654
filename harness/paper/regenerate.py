"""Regenerating the paper's tables: run whichever experiment of harness.paper.recipes has no run file yet (or one
from another arith world than the current one, or with other options than the experiment now sets), read the run
JSONs, and render results/leaderboard.md and its figures. No model is loaded to tabulate."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from harness.core.errors import InputError
from harness.evaluation import plots
from harness.flow.run import RunConfig, check_config, run
from harness.paper import tables as T
from harness.paper.claims import RULE, step_claim_lines, verdict_lines
from harness.paper.paired import CHANCE_AUC_LOW, CHANCE_GENERATOR, RESAMPLES
from harness.paper.recipes import (
    ABLATION_TABLES,
    by_label,
    experiments,
    main_experiments,
    options_of,
    run_file,
    seed_rows,
)
from harness.paper.seeds import SEEDS, is_seed_variant
from harness.paper.tables import GEN_ORDER, average
from tasks import TASKS


def current_world(task: str, scale: str) -> str | None:
    """The content key of the world `run` would use (None for tasks without a built world): the shipped world's,
    or that of the world built in the cache (None when none is built yet: then every run builds it)."""
    return TASKS.get(task).world_key(scale)


def load_runs(folder: Path, task: str, scale: str) -> dict[str, dict]:
    """The run files of task/scale by label; refused when they measured different worlds (a table mixing them
    would compare reward models on different pools)."""
    runs = {}
    prefix = f"{task}-{scale}-"
    for f in sorted((folder / "runs").glob(f"{prefix}*.json")):
        try:
            d = json.loads(f.read_text(encoding="utf-8"))
            d["config"]["rm"], d["rows"]
        except (ValueError, KeyError, TypeError) as e:
            raise InputError(f"not a run file ({type(e).__name__}: {e})", file=f,
                             expected="JSON written by `python -m harness run`") from None
        d["file"] = f.name
        runs[f.name[len(prefix):-len(".json")]] = d
    worlds: dict[str, list[str]] = {}
    for d in runs.values():
        if d.get("world"):  # files written before runs recorded their world cannot tell
            worlds.setdefault(d["world"], []).append(d["file"])
    if len(worlds) > 1:
        listing = "; ".join(f"{w}: {', '.join(fs[:3])}{' ...' if len(fs) > 3 else ''}" for w, fs in worlds.items())
        raise InputError(f"run files from {len(worlds)} different worlds ({listing})", file=folder / "runs",
                         expected="runs of one world: re-run the stale ones (`python -m harness tables` without "
                                  "--no-run re-runs those not from the current world)")
    return runs


def run_missing(folder: Path, task: str, scale: str, threads: int | None, log) -> list[str]:
    done = []
    world = current_world(task, scale)
    for exp in experiments():
        path = run_file(folder, exp, task, scale)
        options = options_of(exp, folder, task, scale)
        if path.exists():
            why = stale(path, world, options)
            if why is None:
                continue
            log(f"[tables] {exp.label}: {why}: running it again")
        cfg = RunConfig(rm=exp.rm, task=task, scale=scale, rm_options=options,
                        threads=threads, results=str(folder), label=None if exp.label == exp.rm else exp.label)
        check_config(cfg)
        log(f"[tables] missing {exp.label}: {cfg.command()}")
        run(cfg, log)
        done.append(exp.label)
    return done


def stale(path: Path, world: str | None, options: dict) -> str | None:
    """Why the run file no longer answers its experiment (None if it does): it is superseded (see `superseded`),
    or has no per-problem accuracies for the claims' paired intervals or no step-level figures."""
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
        why = superseded(d, world, options)
    except (ValueError, AttributeError, KeyError, TypeError):
        return "unreadable"  # run again (load_runs reports it if it stays broken)
    if why is not None:
        return why
    if not d.get("per_problem"):  # the claims pair runs problem by problem (cached stages: a rerun only selects)
        return "written before run files recorded per-problem accuracies"
    if "process" not in d:  # the process-rewards table and the step-level claim (a rerun scores rm_val-mid)
        return "written before run files recorded step-level figures"
    return None


def superseded(run: dict, world: str | None, options: dict) -> str | None:
    """Why a run no longer measures its experiment (None if it does): it measured another world, or ran with other
    options than the experiment now sets (e.g. after `tune` chose a new learning rate or number of epochs)."""
    was, ran = run.get("world"), run["config"]["rm_options"]
    if world is not None and was != world:
        return f"measured world {was or '(not recorded)'}, the current one is {world}"
    if {k: str(v) for k, v in ran.items()} != {k: str(v) for k, v in options.items()}:
        return f"ran with {ran}, the experiment now sets {options}"
    return None


def current_runs(runs: dict[str, dict], folder: Path, task: str, scale: str) -> tuple[dict[str, dict], dict[str, str]]:
    """The runs that still measure their experiment's options, and why each other experiment's run was left out:
    a table never sets a run with old options (say one epoch) beside runs with the new ones. The world is checked
    by load_runs (one world per table); runs of no experiment (a user's own labels) are kept as they are."""
    known = by_label()
    kept, left_out = {}, {}
    for label, found in runs.items():
        exp = known.get(label)
        why = None if exp is None else superseded(found, None, options_of(exp, folder, task, scale))
        if why is None:
            kept[label] = found
        else:
            left_out[label] = why
    return kept, left_out


def write_plots(folder: Path, runs: dict[str, dict], main: list[str], task: str, scale: str) -> list[Path]:
    out = folder / "plots"
    paths = []
    for gen in GEN_ORDER:
        series = {}
        for label in main:
            series[label] = [r for r in runs[label]["rows"] if r["generator"] == gen and r["method"] == "best_of_n"
                             and r["rm"] == runs[label]["config"]["rm"]]
        any_run = runs[main[0]]
        for method in ("majority_vote", "pass_at_n"):
            series[f"({method})"] = [r for r in any_run["rows"] if r["generator"] == gen and r["method"] == method]
        series = {k: v for k, v in series.items() if v}
        paths.append(plots.plot_curves(series, f"{task} ({scale}) / {gen}: best-of-N (min), 95% bootstrap bands",
                                       out / f"accuracy_vs_n-{gen}.png"))
    trained = [(label, runs[label]["compute"]) for label in main if runs[label].get("compute")]
    if trained:
        per = [(label, {k: v / max(1, c.get("instructions") or 1) for k, v in c.items() if k.endswith("_flops")})
               for label, c in trained]
        paths.append(plots.plot_flops(per, f"{task} ({scale}): development FLOPs per instruction (Figure 2 analog)",
                                      out / "flops.png"))
    counts = Counter(run["compute"].get("instructions") for run in runs.values() if run.get("compute"))
    usual = counts.most_common(1)[0][0] if counts else None

    def name(label, c):  # a run trained or labelled on fewer instructions says so beside its point
        n = c.get("instructions")
        return label if n == usual else f"{label} ({n} instr.)"
    points = [(name(label, run["compute"]), run["compute"]["total_flops"], average(run))
              for label, run in sorted(runs.items()) if run.get("compute") and average(run) is not None]
    if points:
        paths.append(plots.plot_accuracy_vs_flops(
            points, f"{task} ({scale}): best-of-N Avg vs development FLOPs (Figure 1 analog)",
            out / "accuracy_vs_flops.png"))
    return paths


def left_out_section(left_out: dict[str, str]) -> str:
    if not left_out:
        return ""
    return ("## Runs left out until they are re-run\n\n"
            f"{len(left_out)} run file(s) in results/runs/ no longer measure their experiment and are left out of "
            "every table and claim below (a row or claim that needs one reads as missing); `python -m harness "
            "tables` re-runs them.\n\n" + "\n".join(f"- {label}: {why}" for label, why in sorted(left_out.items())))


def render(runs: dict[str, dict], task: str, scale: str, left_out: dict[str, str] | None = None) -> str:
    """results/leaderboard.md from the run files by label; `left_out`: superseded runs by label, with why (see
    current_runs), listed so a reader sees which rows and claims are waiting for a re-run."""
    known = by_label()
    main = [e.label for e in main_experiments() if e.label in runs]
    # the user's own runs join Table 1 (another seed of a run joins that run's row)
    main += sorted(label for label in runs if label not in known and not is_seed_variant(runs, label))
    parts = [*_head_and_claims(runs, task, scale, left_out or {}), *_selection_sections(runs, main),
             *_ablation_sections(runs), *_process_section(runs, main), *_flops_section(runs, main),
             *_figures_and_runs(runs)]
    return "\n\n".join(p for p in parts if p) + "\n"


def _head_and_claims(runs: dict[str, dict], task: str, scale: str, left_out: dict[str, str]) -> list[str]:
    seeds = sorted({r["config"].get("seed", 0) for r in runs.values()})
    worlds = sorted({r["world"] for r in runs.values() if r.get("world")})
    return [
        f"# Paper tables: {task}, {scale} scale",
        f"Written by `python -m harness tables` from the {len(runs)} run files in results/runs/ (seed(s) "
        f"{', '.join(map(str, seeds))}{'; world ' + ', '.join(worlds) if worlds else ''}; the exact command of each "
        "run is listed at the end). " + T.__doc__.split(
            "\n\n", 1)[1].strip().replace("\n", " "),
        "The paper's numbers are its MATH-500 results with 7B-70B generators, shown for orientation only: this world "
        "is a small arithmetic task with tiny generators, so only the direction of each comparison can carry over. "
        "`n/a`: the paper's number is not quoted here.",
        left_out_section(left_out),
        "## Paper claims, checked here",
        f"Generated from the run files ({RULE}; {RESAMPLES:,} resamples). A claim against a baseline reads *not testable "
        f"here* when the baseline ranks one problem's responses at chance: the lower bound of its {CHANCE_GENERATOR} "
        f"within-problem ROC AUC's 95% interval at most {CHANCE_AUC_LOW:g}.",
        "\n".join(verdict_lines(runs)),
        "Step level, from a paired interval over problems (holds / does not hold / tie):",
        "\n".join(step_claim_lines(runs)),
    ]


def _selection_sections(runs: dict[str, dict], main: list[str]) -> list[str]:
    any_run = runs[main[0]] if main else next(iter(runs.values()))
    return [
        "## Table 1 analog: best-of-N (min step aggregation)",
        f"A trained reward model's row is over its training seeds ({', '.join(map(str, SEEDS))}; the runs "
        "<label>-seed<k>, `--set seed=<k>`): each cell is the seeds' mean (min-max); a row of one seed shows the "
        "number. The `seeds` column lists the seeds present.",
        T.table1(runs, main),
        "Without a reward model (the same pools):",
        T.no_rm_rows(any_run),
        "Best-of-64 with 95% bootstrap CIs over problems:",
        T.markdown(["reward model"] + [f"{g} N=64" for g in T.GEN_ORDER],
                   [[label] + [T.fmt_ci(T.cell(runs[label], g, "best_of_n", 64)) for g in T.GEN_ORDER]
                    for label in main]),
        "## Weighted majority vote (Figure 3 analog; sigmoid weights of the min step reward)",
        T.table1(runs, main, "weighted_vote"),
        T.vote_table(runs, main),
    ]


def _ablation_sections(runs: dict[str, dict]) -> list[str]:
    ref_rows, resp_rows, inst_rows, ce_rows = (ABLATION_TABLES[g] for g in ("reference", "responses",
                                                                             "instructions", "ce_variants"))
    return [
        "## Table 5 analog: the reference model at training and at inference",
        "Without the reference at training the reward is beta * log pi_theta(y); without it at inference the step "
        "reward is beta * log pi_theta of the step's tokens. The paper's Table 5 numbers are not quoted here (n/a).",
        T.ablation_table(runs, ref_rows),
        "## Response scaling (Figure 4 analog): responses per instruction",
        "The first k of each instruction's 8 rollouts (generation order); DPO needs a correct and an incorrect one, "
        "so it starts at 2.",
        T.ablation_table(runs, resp_rows),
        "## Instruction scaling (Figure 5 analog): share of the 2,000 RM-training instructions",
        "Nested seeded subsets (25% inside 50% inside 75%), all 8 rollouts each.",
        T.ablation_table(runs, inst_rows),
        "## CE variants and the step-label second stage",
        T.ablation_table(runs, ce_rows),
        "## Run-to-run noise: every trained reward model over its training seeds",
        "The rows of Table 1 seed by seed (the order of the data and of the pairs, the value head's "
        "initialisation), with each seed's within-problem AUC: how far a rerun, e.g. on another CPU whose float "
        "rounding changes the training trajectory, can land from the committed numbers.",
        T.ablation_table(runs, seed_rows(), first="reward model, training seed"),
    ]


def _process_section(runs: dict[str, dict], main: list[str]) -> list[str]:
    return [
        "## Process rewards: does a step score find the first wrong step?",
        "On the arith world's step labels (the first wrong step of every wrong response). F1: ProcessBench's protocol, "
        "the first step below a threshold chosen on the validation rollouts (rm_val-mid) and applied unchanged to "
        "the test pools, with its accuracy on wrong responses (exactly the first wrong step) and on correct ones (no "
        "step flagged), in %. Localisation: wrong responses whose lowest step is the first wrong step, in %. Step "
        "AUC: correct steps before a first wrong step against it. Implicit PRMs are measured on the step reward and "
        "on the accumulated q_t; 95% CIs over problems are in each run's file.",
        T.process_table(runs, main),
    ]


def _flops_section(runs: dict[str, dict], main: list[str]) -> list[str]:
    trained_main = [label for label in main if runs[label].get("compute")]
    return [
        "## Development FLOPs (Figure 2 analog)",
        "Data collection ((prompt + generated) tokens x 2N of the generator, including Math-Shepherd's Monte-Carlo "
        "completions, each of which reads its prompt and the prefix it continues), "
        "reference passes (x 2N: no-grad forwards, such as pi_ref over the rollouts and AutoPSV's verifier pass that "
        "labels them) and training (x 6N), from each checkpoint's compute.json. Per instruction, "
        "since runs may be trained (or labelled) on different numbers of instructions. The paper's ratio: "
        f"{T.PAPER_FLOP_RATIO}x.",
        T.flops_table(runs, trained_main) if trained_main else "(no compute records)",
        "Ablation and variant runs (same accounting):" if any(runs[lb].get("compute") for lb in runs
                                                              if lb not in trained_main) else "",
        T.flops_table(runs, [label for label in sorted(runs) if label not in trained_main and
                             runs[label].get("compute")]) if any(runs[lb].get("compute") for lb in runs
                                                                   if lb not in trained_main) else "",
    ]


def _figures_and_runs(runs: dict[str, dict]) -> list[str]:
    commands = "\n".join(f"- `{run.get('command')}` ({run['file']}, {run.get('timings', {}).get('total_s', '?')} s"
                         " of its last invocation)" for label, run in sorted(runs.items()))
    return [
        "## Figures",
        "- plots/accuracy_vs_n-{weak,mid,strong}.png: best-of-N vs N per generator, with majority vote and pass@N.\n"
        "- plots/flops.png: development FLOPs per instruction (Figure 2 analog).\n"
        "- plots/accuracy_vs_flops.png: best-of-N Avg vs development FLOPs of every trained run (Figure 1 analog).",
        "## Runs",
        commands,
    ]
