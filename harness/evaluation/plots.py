"""Accuracy-vs-n plots (PNG), one per pool: a line per rm/method/aggregation with its 95% bootstrap band."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from harness.core.cache import atomic_path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "pool"


def plot_pool(res, path: str | Path) -> Path:
    """Write one PNG for a leaderboard PoolResult; matplotlib is imported here so the CLI stays fast."""
    import matplotlib  # lazy: matplotlib costs ~0.2 s; only plots need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: matplotlib costs ~0.2 s; only plots need it

    series: dict[tuple, list[dict]] = {}
    for r in res.rows:
        series.setdefault((r["rm"], r["method"], r["aggregation"]), []).append(r)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    try:
        for (rm, method, agg), rows in series.items():
            rows = sorted(rows, key=lambda r: r["n"])
            x = [r["n"] for r in rows]
            label = method if rm == "-" else f"{rm} {method} ({agg})"
            style = "--" if rm == "-" else "-"
            (line,) = ax.plot(x, [100 * r["accuracy"] for r in rows], style, marker="o", ms=3, label=label)
            ax.fill_between(x, [100 * r["ci_low"] for r in rows], [100 * r["ci_high"] for r in rows],
                            color=line.get_color(), alpha=0.15, linewidth=0)
        ax.set_xscale("log", base=2)
        ticks = sorted({r["n"] for r in res.rows})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("n (responses per problem)")
        ax.set_ylabel("accuracy (%)")
        ax.set_title(f"{res.task} / {res.generator} ({res.problems} problems, 95% bootstrap CI)")
        ax.grid(True, which="major", alpha=0.3)
        if series:
            ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        path = Path(path)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=120)
    finally:
        plt.close(fig)
    return path


def plot_all(results: Sequence, out_dir: str | Path) -> list[Path]:
    """One file per pool, named after the pool file (with task/generator to disambiguate equal names)."""
    out_dir = Path(out_dir)
    stems = [Path(r.name).stem for r in results]
    paths = []
    for res, stem in zip(results, stems):
        name = stem if stems.count(stem) == 1 else f"{stem}-{res.task}-{res.generator}-{len(paths)}"
        paths.append(plot_pool(res, out_dir / f"accuracy_vs_n-{_slug(name)}.png"))
    return paths


# --- figures of `harness tables` (from run files; deterministic bytes: no timestamps in the PNG) ------------------

def _figure():
    import matplotlib  # lazy: matplotlib costs ~0.2 s; only plots need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: matplotlib costs ~0.2 s; only plots need it
    return plt


def _save(fig, plt, path) -> Path:
    path = Path(path)
    try:
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    finally:
        plt.close(fig)
    return path


def plot_curves(series: dict[str, list[dict]], title: str, path) -> Path:
    """Accuracy vs n, one line (with its 95% band) per label; rows as in the JSON leaderboard."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, rows in series.items():
        rows = sorted(rows, key=lambda r: r["n"])
        x = [r["n"] for r in rows]
        (line,) = ax.plot(x, [100 * r["accuracy"] for r in rows], "--" if label.startswith("(") else "-",
                          marker="o", ms=3, label=label)
        ax.fill_between(x, [100 * r["ci_low"] for r in rows], [100 * r["ci_high"] for r in rows],
                        color=line.get_color(), alpha=0.12, linewidth=0)
    ticks = sorted({r["n"] for rows in series.values() for r in rows})
    ax.set_xscale("log", base=2)
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("N (responses per problem)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return _save(fig, plt, path)


def plot_flops(entries: list[tuple[str, dict]], title: str, path) -> Path:
    """The paper's Figure 2 analog: development FLOPs per reward model, stacked by stage, log scale."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7, 4))
    names = [n for n, _ in entries]
    bottom = [0.0] * len(entries)
    for key, label in (("data_collection_flops", "data collection"), ("reference_flops", "reference passes"),
                       ("training_flops", "training")):
        vals = [c.get(key, 0.0) for _, c in entries]
        ax.bar(names, vals, bottom=bottom, label=label)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_yscale("log")
    ax.set_ylabel("FLOPs per training instruction")
    ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    ax.legend(fontsize=8)
    return _save(fig, plt, path)


def plot_accuracy_vs_flops(points: list[tuple[str, float, float]], title: str, path) -> Path:
    """The paper's Figure 1 analog: best-of-N average accuracy against development FLOPs."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, flops, acc in points:
        ax.scatter([flops], [acc], s=18)
        ax.annotate(name, (flops, acc), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("development FLOPs (data collection + reference + training)")
    ax.set_ylabel("best-of-N Avg accuracy (%)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    return _save(fig, plt, path)
