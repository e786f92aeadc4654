"""The static HTML report: leaderboards of the recorded runs, plots, and a problem browser with steps coloured by
step reward. One folder of plain files that opens from disk (no server, no network: plots are embedded, the
pages load no script from elsewhere).

Pools are paged (PAGE_PROBLEMS problems a page) so that a 32,000-response pool stays a set of small pages.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.core import cache
from harness.core.errors import InputError
from harness.core.pool import Pool
from harness.core.scores import ScoreSet, load_scores, score_dir
from harness.core.steps import step_spans
from harness.evaluation import pivot
from harness.evaluation.process_rewards import ACCUMULATED, STEP, label_of
from harness.evaluation.run_index import cached_results, read_runs
from harness.evaluation.step_eval import first_below

PAGE_PROBLEMS = 25
FLAG_SHARE = 8  # "top-scored" / "bottom-scored": among the first / last N / FLAG_SHARE responses (at least one)


@dataclass
class PoolView:
    pool: Pool
    score_sets: list[ScoreSet]   # one or two, the reward models the steps are coloured by
    name: str


def environment():
    # lazy: jinja2 is only needed to render a chat template
    from jinja2 import Environment, PackageLoader, select_autoescape
    return Environment(loader=PackageLoader("harness.evaluation", "templates/report"),
                       autoescape=select_autoescape(["html"]),
                       trim_blocks=True, lstrip_blocks=True)


PREFERRED = ("implicit_ce", "orm", "implicit_dpo", "math_shepherd", "loglik")


def pick_score_sets(pool: Pool, rms: list[str] | None) -> list[ScoreSet]:
    """The pool's cached score sets of the reward models named, in order; by default implicit CE and the ORM (else
    the first two of PREFERRED, else of the names found). A reward model scored under several options gives its
    newest score set (the last one written)."""
    folder = score_dir(pool.content_hash())
    files = sorted(folder.glob("*.json"), key=lambda f: f.stat().st_mtime, reverse=True) if folder.is_dir() else []
    newest: dict[str, Path] = {}
    for f in files:
        rm = f.name.rsplit("-", 1)[0]
        newest.setdefault(rm, f)
    if rms:
        missing = [rm for rm in rms if rm not in newest]
        if missing:
            raise InputError(f"no cached score set of '{missing[0]}' for this pool", file=pool.path, field="--rm",
                             expected="one of " + (", ".join(sorted(newest)) or
                                                   "(none: run `python -m harness score` first)"))
    else:
        rms = ([rm for rm in PREFERRED if rm in newest] + sorted(set(newest) - set(PREFERRED)))[:2]
    out = []
    for rm in rms:
        data = cache.read_bytes_checked(newest[rm], action="ignoring it (`score` recomputes it)")
        if data is None:
            raise InputError("damaged score set", file=newest[rm], expected="run `python -m harness score` again")
        out.append(load_scores(newest[rm], data))
    return out


GREEN, RED = (26, 140, 64), (200, 40, 36)  # the ends of the scale: dark enough to read in a screenshot


def colour_scale(ss: ScoreSet):
    """Step reward -> CSS colour: white at the pool's median step reward, green above, red below, saturated at the
    90th percentile of the distance from it (so one outlier does not wash out the rest) and passing half-way
    (a clear tint) at a quarter of that distance."""
    flat = np.array([x for prob in ss.step_scores for resp in prob for x in resp if np.isfinite(x)], dtype=float)
    mid = float(np.median(flat)) if len(flat) else 0.0
    spread = float(np.percentile(np.abs(flat - mid), 90)) if len(flat) else 1.0
    spread = spread if spread > 0 else 1.0

    def colour(x: float) -> str:
        if not np.isfinite(x):
            return "rgb(200,200,200)"
        t = max(-1.0, min(1.0, (x - mid) / spread))
        w = abs(t) ** 0.5  # a quarter of the spread is half-way to the full colour
        end = GREEN if t >= 0 else RED
        return "rgb({},{},{})".format(*(round(255 + (c - 255) * w) for c in end))
    return colour


def ink(colour: str) -> str:
    """Text colour readable on a background colour "rgb(r,g,b)": white on dark, near-black on light."""
    r, g, b = (int(v) for v in re.findall(r"\d+", colour)[:3])
    return "#fff" if 0.299 * r + 0.587 * g + 0.114 * b < 150 else "#111"


def reward_text(x: float) -> str:
    """A step reward as a short signed number."""
    return f"{x:+.3g}" if np.isfinite(x) else "n/a"


def step_colours(values, n_steps: int, colour):
    """(value, colour) per step: a reward model's own step rewards, or its one outcome score on every step (an ORM
    or a baseline scores the response as a whole); None when its steps are another split of the text."""
    if len(values) == n_steps:
        return [(v, colour(v)) for v in values]
    if len(values) == 1:
        return [(values[0], colour(values[0]))] * n_steps
    return None


def step_thresholds(runs: list[dict]) -> dict[str, tuple[dict[str, float], str]]:
    """{reward model: ({view: threshold}, run name)} of the runs with a step-level report (the run without a label
    first): where a reward model predicts each response's first wrong step (harness.evaluation.process_rewards).
    Views are "step reward" and, for implicit PRMs, "q_t"; a score set is thresholded in the view it stores."""
    out: dict[str, tuple[dict[str, float], str]] = {}
    for d in sorted(runs, key=lambda d: d.get("config", {}).get("label") is not None):
        proc, cfg = d.get("process") or {}, d.get("config", {})
        views = {name: v["threshold"] for name, v in (proc.get("views") or {}).items()
                 if isinstance(v, dict) and v.get("threshold") is not None}
        if proc.get("status") == "measured" and STEP in views and cfg.get("rm"):
            out.setdefault(cfg["rm"], (views, cfg.get("label") or cfg["rm"]))
    return out


def stored_view(score_set) -> str:
    """The view a score set's numbers are in: q_t for an implicit PRM scored with reward=accumulative, else the
    per-step reward."""
    return ACCUMULATED if (score_set.meta or {}).get("reward") == "accumulative" else STEP


def first_wrong_step(r, n_steps: int) -> str | None:
    """The pool's first wrong step of a wrong response, as shown (1-based like the text's "Step k:"); None when the
    pool records none (a correct response, or a pool without step labels)."""
    if r.correct or "error_step" not in r.extra:
        return None
    e = r.extra["error_step"]
    if e is None:
        return "none (only the final answer is wrong)"
    return f"step {e}" if e <= n_steps else f"step {e} (missing: the response stops early)"


def predicted_steps(values, n_steps: int, rm: str, threshold, view: str = STEP) -> dict | None:
    """A reward model's predicted first wrong step: the first step below its run's threshold for the view its
    numbers are in (ProcessBench's protocol); None without such a threshold or when its scores are not these steps
    (an outcome score)."""
    if threshold is None or view not in threshold[0] or len(values) != n_steps or n_steps < 1:
        return None
    cut = threshold[0][view]
    k = first_below(values, cut)
    return {"rm": rm, "step": k, "text": "none" if k < 0 else f"step {k + 1}", "threshold": f"{cut:.4g}",
            "run": threshold[1], "view": view}


def problem_view(p, index: int, score_sets, colours, agg: str, thresholds: dict | None = None) -> dict:
    """One problem: its responses in the first reward model's order, each with its steps, scores, ranks, flags, and
    (pools with step labels) its true and predicted first wrong step."""
    outcomes = [ss.aggregate(agg)[index] for ss in score_sets]
    n = len(p.responses)
    order = np.argsort(-outcomes[0], kind="stable")
    ranks = [np.empty(n, dtype=int) for _ in outcomes]
    for rk, o in zip(ranks, outcomes):
        rk[np.argsort(-o, kind="stable")] = np.arange(1, n + 1)
    share = max(1, n // FLAG_SHARE)
    responses = []
    for j in order:
        r = p.responses[j]
        spans = step_spans(r.text)
        flags = []
        if not r.correct and ranks[0][j] <= share:
            flags.append("wrong-top")
        if r.correct and ranks[0][j] > n - share:
            flags.append("right-bottom")
        picks = [int(rk[j]) == 1 for rk in ranks]
        if any(picks):
            flags.append("pick")
        steps = []
        per_rm = [step_colours(ss.step_scores[index][j], len(spans), col) for ss, col in zip(score_sets, colours)]
        if per_rm[0] is None and (len(per_rm) == 1 or per_rm[1] is None):
            # neither reward model's steps are these steps (another split): the text whole rather than mis-coloured
            steps.append({"text": r.text, "rewards": [None] * len(per_rm), "title": "steps do not match"})
        else:
            for k, (a, b) in enumerate(spans):
                cells = [c[k] if c is not None else None for c in per_rm]
                # each reward model's step reward side by side: its number on its colour
                steps.append({"text": r.text[a:b].rstrip("\n"), "title": "",
                              "rewards": [{"rm": ss.rm, "value": reward_text(c[0]), "bg": c[1], "fg": ink(c[1])}
                                          if c else None for ss, c in zip(score_sets, cells)]})
        preds = [x for ss in score_sets if (x := predicted_steps(ss.step_scores[index][j], len(spans), ss.rm,
                                                                  (thresholds or {}).get(ss.rm), stored_view(ss)))]
        truth = first_wrong_step(r, len(spans))
        for k, st in enumerate(steps if len(steps) == len(spans) else []):
            st["marks"] = (["first wrong step"] if label_of(r, len(spans)) == k else []) + \
                [f"{x['rm']} predicts" for x in preds if x["step"] == k]
        responses.append({"index": int(j), "correct": bool(r.correct), "answer": r.answer, "flags": flags,
                          "steps": steps, "first_wrong": truth, "predicted": preds,
                          "scores": [{"rm": ss.rm, "value": float(o[j]), "rank": int(rk[j]), "pick": pk}
                                     for ss, o, rk, pk in zip(score_sets, outcomes, ranks, picks)]})
    picks = [bool(p.responses[int(np.argmax(o))].correct) for o in outcomes]
    flags = [f"{'ab'[i]}-wrong" for i, ok in enumerate(picks) if not ok]
    wrong_top = sum("wrong-top" in r["flags"] for r in responses)
    right_bottom = sum("right-bottom" in r["flags"] for r in responses)
    flags += (["wrong-top"] if wrong_top else []) + (["right-bottom"] if right_bottom else [])
    return {"id": p.id, "problem": p.problem, "reference": p.reference, "n": n,
            "n_correct": sum(bool(r.correct) for r in p.responses), "responses": responses, "picks": picks,
            "flags": flags, "wrong_top": wrong_top, "right_bottom": right_bottom,
            "anchor": "p" + re.sub(r"[^A-Za-z0-9_-]", "_", str(p.id))}


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "pool"


def write_pool(env, view: PoolView, folder: Path, nav, agg: str, thresholds: dict | None = None) -> dict:
    pool, sets = view.pool, view.score_sets
    if not pool.is_graded():
        raise InputError("pool is not graded (run `python -m harness grade` first)", file=pool.path)
    colours = [colour_scale(ss) for ss in sets]
    rms = [ss.rm for ss in sets]
    base = slug(view.name)
    (folder / base).mkdir(parents=True, exist_ok=True)
    info = {"name": view.name, "href": f"{base}/index.html", "path": str(pool.path), "problems": len(pool.problems),
            "responses": pool.n_responses, "rms": rms}
    summary = []
    pages = list(range(0, len(pool.problems), PAGE_PROBLEMS))
    for k, start in enumerate(pages):
        views = [problem_view(p, i, sets, colours, agg, thresholds)
                 for i, p in enumerate(pool.problems[start:start + PAGE_PROBLEMS], start)]
        name = f"page-{k + 1:03d}.html"
        for v in views:
            summary.append({**{key: v[key] for key in ("id", "n", "n_correct", "picks", "flags", "wrong_top",
                                                        "right_bottom")}, "href": f"{name}#{v['anchor']}"})
        html = env.get_template("page.html").render(
            title=f"{view.name} {k + 1}", root="../", nav_pools=nav, pool=info, rms=rms, problems=views,
            first=start + 1, last=start + len(views), prev=f"page-{k:03d}.html" if k else None,
            next=f"page-{k + 2:03d}.html" if k + 1 < len(pages) else None)
        cache.write_text_atomic(folder / base / name, html)
    cache.write_text_atomic(folder / base / "index.html", env.get_template("pool.html").render(
        title=view.name, root="../", nav_pools=nav, pool=info, rms=rms, problems=summary, agg=agg))
    return info


def processbench_views(runs: list[dict]) -> list[dict]:
    out = []
    for d in runs:
        if d.get("kind") != "processbench":
            continue
        splits = []
        for split, s in sorted((d.get("splits") or {}).items()):
            def pct(x):
                return "-" if x is None else f"{100 * x:.1f}"
            splits.append({"split": split, "f1": pct(s.get("f1")), "err": pct(s.get("acc_error")),
                           "ok": pct(s.get("acc_correct")), "n": (s.get("n_error") or 0) + (s.get("n_correct") or 0)})
        name = d.get("config", {}).get("label") or d.get("rm")
        preds = d.get("predictions") or {}
        out.append({"name": name, "splits": splits, "predictions": preds,
                    "href": f"processbench-{slug(name)}.html" if preds else None})
    return out


def build_site(out: Path, runs_dir: Path | None = None, plots_dir: Path | None = None,
               pools: list[PoolView] = (), agg: str = "min") -> Path:
    """Write the site into `out` (replaced whole: a half-written site never stands in for a finished one)."""
    env = environment()
    records = read_runs(runs_dir)
    results, _ = cached_results(runs=records)
    rows = [r for res in results for r in res.rows]
    runs = [d for _, d in records[0]]
    plots = [{"name": p.name, "data": base64.b64encode(p.read_bytes()).decode()}
             for p in sorted(plots_dir.glob("*.png"))] if plots_dir is not None and plots_dir.is_dir() else []
    beside = {p["name"]: p["data"] for p in plots}  # a generator's accuracy-vs-N plot goes beside its table
    pivots = [pivot.view(pv, beside.get(f"accuracy_vs_n-{pv.generator}.png")) for pv in pivot.pivot_tables(rows, agg)]
    plots = [p for p in plots if p["data"] not in {v["plot"] for v in pivots}]
    nav = [{"name": v.name, "href": f"{slug(v.name)}/index.html"} for v in pools]
    with cache.atomic_dir(out) as tmp:
        thresholds = step_thresholds(runs)
        infos = [write_pool(env, v, tmp, nav, agg, thresholds) for v in pools]
        pb = processbench_views(runs)
        for v in pb:
            if v["href"]:
                cache.write_text_atomic(tmp / v["href"], env.get_template("processbench.html").render(
                    title=f"ProcessBench {v['name']}", root="", nav_pools=nav, pb=v))
        html = env.get_template("index.html").render(
            title="Leaderboard", root="", nav_pools=nav, rows=rows, runs=runs, pivots=pivots,
            source=str(runs_dir if runs_dir is not None else cache.root() / "runs"),
            generators=sorted({str(r["generator"]) for r in rows}), methods=sorted({r["method"] for r in rows}),
            ns=sorted({r["n"] for r in rows}), pools=infos, processbench=pb, plots=plots)
        (tmp / "index.html").write_text(html, encoding="utf-8")
        (tmp / "site.json").write_text(json.dumps({"rows": len(rows), "runs": len(runs), "pools": infos}, indent=1)
                                       + "\n", encoding="utf-8")
    return out
