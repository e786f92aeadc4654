"""Accuracy-vs-n plots (PNG), one per pool: a line per rm/method/aggregation with its 95% bootstrap band."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from harness.cache import atomic_path


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "pool"


def plot_pool(res, path: str | Path) -> Path:
    """Write one PNG for a leaderboard PoolResult; matplotlib is imported here so the CLI stays fast."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
