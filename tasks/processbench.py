"""ProcessBench (QwenLM/ProcessBench, dataset/{gsm8k,math,olympiadbench,omnimath}.json): real LLM solutions split
into `steps`, human `label` = index of the earliest wrong step (-1 = every step right).

Each sample becomes a one-response pool problem whose text is the steps joined by blank lines (the authors' own
"\n\n" join), so harness.steps splits it back into exactly the given steps and a PRM's step scores line up with the
labels. A few solutions mix "Step k:" headers with unmarked paragraphs; harness.steps then splits at the headers
only, so those samples cannot be scored step for step and are left out (the count is reported with the result).

`run --task processbench` scores every sample with one reward model and evaluates with harness.step_eval. Data is
read from `--data FOLDER`, else ../shared/data/processbench beside the checkout (the hub copy, Qwen/ProcessBench, is
not fetched here: give a local folder).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness import cache
from harness.errors import InputError
from harness.pool import Pool, Problem, Response, load_pool, save_pool
from harness.steps import split_steps
from tasks import register_task
from tasks.base import Task, TaskProblem
from tasks.math500 import SHARED_DATA

SPLITS = ("gsm8k", "math", "olympiadbench", "omnimath")
TUNE_ON = "gsm8k"  # the authors' script picks the threshold on GSM8K
DEFAULT_MAX_PER_SPLIT = None


@dataclass
class Sample:
    id: str
    problem: str
    steps: list[str]
    label: int
    final_answer_correct: bool | None
    generator: str | None


def data_dir(data: str | None) -> Path:
    d = Path(data) if data else SHARED_DATA / "processbench"
    if not d.is_dir():
        raise InputError("ProcessBench folder not found", file=d, field="--data",
                         expected="a folder with gsm8k.json, math.json, olympiadbench.json, omnimath.json "
                                  "(QwenLM/ProcessBench, dataset/)")
    return d


def load_split(split: str, data: str | None = None) -> list[Sample]:
    if split not in SPLITS:
        raise InputError(f"unknown ProcessBench split '{split}'", field="--splits", expected=", ".join(SPLITS))
    path = data_dir(data) / f"{split}.json"
    if not path.is_file():
        raise InputError("file not found", file=path, expected=f"ProcessBench {split}.json")
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"not a JSON file ({e})", file=path) from None
    if not isinstance(rows, list):
        raise InputError("wrong type", file=path, expected="a JSON list of samples")
    out = []
    for i, r in enumerate(rows):
        where = f"[{i}]"
        if not isinstance(r, dict):
            raise InputError("wrong type", file=path, field=where, expected="an object")
        for k in ("id", "problem", "steps", "label"):
            if k not in r:
                raise InputError("missing field", file=path, field=f"{where}.{k}")
        steps, label = r["steps"], r["label"]
        if not isinstance(steps, list) or not steps or not all(isinstance(s, str) for s in steps):
            raise InputError("wrong type", file=path, field=f"{where}.steps", expected="a non-empty list of strings")
        if isinstance(label, bool) or not isinstance(label, int) or not -1 <= label < len(steps):
            raise InputError(f"bad label {label!r}", file=path, field=f"{where}.label",
                             expected=f"-1 or a step index below {len(steps)}")
        out.append(Sample(str(r["id"]), str(r["problem"]), steps, label, r.get("final_answer_correct"),
                          r.get("generator")))
    return out


def response_text(steps: list[str]) -> str:
    return "\n\n".join(s.strip() for s in steps)


def round_trips(sample: Sample) -> bool:
    return split_steps(response_text(sample.steps)) == [s.strip() for s in sample.steps]


def to_pool(samples: list[Sample], split: str) -> Pool:
    problems = []
    for s in samples:
        text = response_text(s.steps)
        assert split_steps(text) == [x.strip() for x in s.steps], s.id  # callers keep only round-tripping samples
        problems.append(Problem(s.id, s.problem, "", [Response(text, None, s.label == -1, {"label": s.label})],
                                {"generator": s.generator or "mixed", "task": f"processbench-{split}"}))
    return Pool(problems)


def select(samples: list[Sample], max_n: int | None, seed: int) -> tuple[list[Sample], int]:
    """Samples that round-trip, a seeded subset of max_n of them in file order; and how many did not round-trip."""
    ok = [s for s in samples if round_trips(s)]
    dropped = len(samples) - len(ok)
    if max_n is not None and max_n < len(ok):
        keep = sorted(np.random.default_rng(seed).permutation(len(ok))[:max_n].tolist())
        ok = [ok[i] for i in keep]
    return ok, dropped


def split_pool(split: str, data: str | None, max_n: int | None, seed: int) -> tuple[Pool, list[int], int]:
    """(cached pool file, labels, samples left out) of one split."""
    samples, dropped = select(load_split(split, data), max_n, seed)
    pool = to_pool(samples, split)
    path = cache.root() / "pools" / f"processbench-{split}-{pool.content_hash()}.jsonl"
    if not path.is_file():
        save_pool(pool, path)
    return load_pool(path), [s.label for s in samples], dropped


def random_step_scores(pool: Pool, seed: int) -> list[list[float]]:
    """The chance baseline: independent uniform scores per step, seeded."""
    rng = np.random.default_rng(seed)
    return [[float(x) for x in rng.uniform(size=len(split_steps(p.responses[0].text)))] for p in pool.problems]


def _scorer(cfg, log):
    """(reward model ready to score, what it is) for loglik / trained implicit PRMs; a trainable RM with no --model
    is trained (or found cached) on half A of the gsm8k-gpt3 experiment, the same checkpoint that run made."""
    from harness.crossfit import effective_rm_options
    from reward_models import get_rm
    from reward_models.bases import is_named, resolve_base
    opts = effective_rm_options(cfg.rm, cfg.rm_options)
    rm = get_rm(cfg.rm, **opts)
    for attr in ("model", "ref"):
        if is_named(getattr(rm.config, attr, None)):
            setattr(rm.config, attr, resolve_base(getattr(rm.config, attr), log))
    def base():  # converted only when something needs it
        return resolve_base(cfg.base or "smollm2", log)
    if rm.trainable and getattr(rm.config, "model", None) is None:
        from tasks.gsm8k_gpt3 import build_halves, max_problems_of
        halves = build_halves(None, max_problems_of(cfg.task_options), cfg.seed)
        log(f"[train] {cfg.rm} on gsm8k-gpt3 half A ({halves['A'].n_responses} solutions)")
        rm.fit(halves["A"], base())
        return rm, {"trained_on": str(halves["A"].path), "checkpoint": rm.config.model, "ref": rm.config.ref}
    if rm.trainable and rm.config.use_ref and rm.config.ref is None:
        rm.config.ref = base()
    if not rm.trainable and getattr(rm.config, "model", None) is None:
        rm.fit(None, base())
    return rm, {"model": getattr(rm.config, "model", None), "ref": getattr(rm.config, "ref", None)}


def run_processbench(cfg, log=None) -> dict:
    from harness import step_eval
    log = log or (lambda m: print(m, file=sys.stderr))
    topts = cfg.task_options
    splits = list(topts.get("splits") or SPLITS)
    for split in splits:  # before any model is loaded
        if split not in SPLITS:
            raise InputError(f"unknown ProcessBench split '{split}'", field="--splits", expected=", ".join(SPLITS))
    if topts.get("tune_on", TUNE_ON) not in SPLITS:
        raise InputError(f"unknown ProcessBench split '{topts['tune_on']}'", field="--tune-on",
                         expected=", ".join(SPLITS))
    tune_on = topts.get("tune_on", TUNE_ON)
    notes = []
    if tune_on not in splits:
        notes.append(f"threshold tuned on '{splits[0]}' ('{tune_on}' not among the splits run): its F1 is in-sample")
        tune_on = splits[0]
    max_n = topts.get("max_per_split", DEFAULT_MAX_PER_SPLIT)
    t0 = time.time()
    timings, data, dropped, sizes, ids = {}, {}, {}, {}, {}
    rm, what = (None, {"seed": cfg.seed}) if cfg.rm == "random" else _scorer(cfg, log)
    timings["prepare_s"] = round(time.time() - t0, 1)
    for split in splits:
        pool, labels, dropped[split] = split_pool(split, topts.get("data"), max_n, cfg.seed)
        sizes[split] = len(pool)
        ids[split] = [p.id for p in pool.problems]
        t = time.time()
        log(f"[score] {cfg.rm} on ProcessBench-{split} ({len(pool)} samples)")
        if rm is None:
            scores = random_step_scores(pool, cfg.seed)
        else:
            scores = [p[0] for p in rm.score(pool).step_scores]
        timings[f"score_{split}_s"] = round(time.time() - t, 1)
        data[split] = (labels, scores)
    result = step_eval.evaluate_splits(data, tune_on, resamples=cfg.bootstrap, seed=cfg.seed)
    # Every sample's predicted first wrong step (-1: none) beside its label, for `harness report`.
    thr = result["threshold"]
    result["predictions"] = {split: [{"id": i, "label": lab, "predicted": step_eval.first_below(s, thr)}
                                     for i, lab, s in zip(ids[split], *data[split])] for split in splits}
    for split, n in dropped.items():
        if n:
            notes.append(f"{split}: {n} samples left out (their 'Step k:' headers mixed with unmarked paragraphs do "
                         "not split back into the labelled steps)")
    timings["total_s"] = round(time.time() - t0, 1)
    report = {"kind": "processbench", "rm": cfg.rm, "command": cfg.command(), "config": _config(cfg), **result,
              "scorer": what, "samples": sizes, "left_out": dropped, "notes": notes, "timings": timings}
    report["written"] = write(cfg, report)
    return report


def _config(cfg) -> dict:
    from dataclasses import asdict
    return asdict(cfg)


def write(cfg, report: dict) -> list[str]:
    from harness import step_eval
    from harness.crossfit import results_stem
    from tasks.gsm8k_gpt3 import DEFAULT_MAX_PROBLEMS
    stem = results_stem("processbench", cfg.name, cfg.task_options,
                        {"splits": None, "max_per_split": None, "tune_on": TUNE_ON, "data": None,
                         "max_problems": DEFAULT_MAX_PROBLEMS})
    md = (f"# {cfg.rm} on ProcessBench\n\nCommand: `{report['command']}`\n\n"
          + step_eval.render(report, "markdown") + "\nTimings (s, this machine): " + str(report["timings"]) + "\n")
    return [str(p) for p in cache.write_run_files(cfg.results, stem, md, step_eval.render(report, "json"))]


@register_task("processbench")
class ProcessBench(Task):
    name = "processbench"
    default_base = "smollm2"

    def problems(self, split: str = "gsm8k") -> list[TaskProblem]:
        return [TaskProblem(s.id, s.problem, "", {"label": s.label, "steps": s.steps})
                for s in load_split(split, self.data)]

    @staticmethod
    def run_experiment(cfg, log):
        return run_processbench(cfg, log)
