"""The runs recorded in the cache (<cache>/runs/*.json, one file per run name), as leaderboard results.

`harness leaderboard` with no --pool lists these: every run's selection rows, filtered by task, reward model and
generator, without loading a pool or a model. A run file is the JSON `run` prints with --format json.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.core import cache
from harness.core.errors import InputError
from harness.core.publisher_steps import is_default
from harness.evaluation.leaderboard import PoolResult


def run_files(folder: Path | None = None) -> list[Path]:
    folder = folder if folder is not None else cache.root() / "runs"
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def load_run(path: Path) -> dict | None:
    """A run file's record; None for a JSON file of another kind beside them (e.g. results/runs/real_track-wall.json,
    a search report);
    a file that is not JSON at all is an error."""
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise InputError(f"cannot read run file ({e})", file=path, expected="JSON written by `harness run`") from None
    if not isinstance(d, dict) or not isinstance(d.get("config"), dict):
        return None
    if d.get("kind") == "search" or isinstance(d.get("search"), dict):
        return None  # a search report (harness search): its rows compare pools, not reward models on one pool
    return d


def read_runs(folder: Path | None = None) -> tuple[list[tuple[Path, dict]], list[str]]:
    """(path, record) of every run file in `folder` (default: the cache's runs/), and a note naming the other
    JSON files there."""
    runs, other = [], []
    for path in run_files(folder):
        d = load_run(path)
        if d is None:
            other.append(path.name)
        else:
            runs.append((path, d))
    return runs, ([f"not run files, left out: {', '.join(other)}"] if other else [])


def cached_results(task: list[str] | None = None, rm: list[str] | None = None, generator: list[str] | None = None,
                   folder: Path | None = None, runs: tuple | None = None) -> tuple[list[PoolResult], list[str]]:
    """One PoolResult per (run, generator) that passes the filters, and notes on the files left out.

    Each filter reads what the run recorded: a row's own task and generator (a run of `--task arith` on pools of
    another task records that task in its rows), the run's reward model or its label for `rm` (`implicit_ce` finds
    implicit_ce-r1 too). Each row carries the run's name in "run" and the world it measured in "world" (arith)."""
    out, step_level = [], []
    runs, notes = runs if runs is not None else read_runs(folder)  # `runs`: what read_runs returned, read once
    notes = list(notes)
    for path, d in runs:
        cfg = d["config"]
        name = cfg.get("label") or cfg.get("rm", path.stem)
        if rm and cfg.get("rm") not in rm and name not in rm:
            continue
        if not isinstance(d.get("rows"), list):  # ProcessBench runs are step-level: no selection rows
            if not task or cfg.get("task") in task:
                step_level.append(path.name)
            continue
        steps = {} if is_default(d.get("steps")) else {"steps": d["steps"]}  # the publisher's steps, when scored
        title = f"run {name}" + (f", steps={steps['steps']}" if steps else "")
        by_gen: dict[str, PoolResult] = {}
        for row in d["rows"]:
            if generator and row.get("generator") not in generator:
                continue
            if task and row.get("task", cfg.get("task")) not in task:
                continue
            res = by_gen.get(row.get("generator"))
            if res is None:
                proto = " [paper protocol]" if cfg.get("protocol") == "paper" else ""
                res = by_gen[row.get("generator")] = PoolResult(title + proto, row.get("task", cfg.get("task")),
                                                                row.get("generator"), row.get("problems", 0))
            res.rows.append({**row, "run": name, **steps, **({"world": d["world"]} if d.get("world") else {})})
        out += by_gen.values()
    if step_level:
        notes.append(f"{len(step_level)} step-level run file(s) have no selection rows (see their .md beside them): "
                     + ", ".join(step_level))
    return out, notes
