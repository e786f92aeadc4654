"""The search report: a table per generator (accuracy with 95% CIs, compute a problem) and a plot of accuracy
against N and against compute (generator + reward-model FLOPs); harness.flow.reports.SearchReport writes them."""

from __future__ import annotations

from pathlib import Path


def _row(rows, source, method, n):
    return next((r for r in rows if r["source"] == source and r["method"] == method and r["n"] == n), None)


def _pct(r) -> str:
    return "-" if r is None else f"{100 * r['accuracy']:.1f} [{100 * r['ci_low']:.1f}, {100 * r['ci_high']:.1f}]"


def _count(c, key) -> str:
    return "-" if c is None else f"{c[key]:.0f}"


def _gflops(c) -> str:
    if c is None or c.get("rm_flops") is None:
        return "-"
    return f"{(c['generator_flops'] + c['rm_flops']) / 1e9:.2f}"


def total_flops(c) -> float | None:
    return None if c is None or c.get("rm_flops") is None else c["generator_flops"] + c["rm_flops"]


def render(report: dict) -> str:
    opts = report["search"]
    sources = ["sampled"] + list(opts["methods"])
    lines = []
    for g, e in report["generators"].items():
        lines += [f"### Generator `{g}` ({e['problems']} problems)", "",
                  "| selection from | N | best-of-N | weighted vote | majority vote | pass@N | generated tokens | "
                  "RM tokens | GFLOPs (gen + RM) |", "|---|---|---|---|---|---|---|---|---|"]
        for src in sources:
            for n in opts["ns"]:
                c = e["cost"].get(src, {}).get(str(n))
                name = "sampling (world pool)" if src == "sampled" else src
                lines.append(f"| {name} | {n} | {_pct(_row(e['rows'], src, 'best_of_n', n))} | "
                             f"{_pct(_row(e['rows'], src, 'weighted_vote', n))} | "
                             f"{_pct(_row(e['rows'], src, 'majority_vote', n))} | "
                             f"{_pct(_row(e['rows'], src, 'pass_at_n', n))} | "
                             f"{_count(c, 'generated_tokens')} | {_count(c, 'rm_tokens')} | {_gflops(c)} |")
        lines.append("")
    return "\n".join(lines)


def plot(report: dict, out: Path) -> Path:
    import matplotlib  # lazy: matplotlib costs ~0.2 s; only plots need it
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: matplotlib costs ~0.2 s; only plots need it
    gens = list(report["generators"])
    opts = report["search"]
    fig, axes = plt.subplots(2, len(gens), figsize=(4.2 * len(gens), 7), squeeze=False)
    styles = {"best_of_n": "-", "weighted_vote": "--"}
    for j, g in enumerate(gens):
        e = report["generators"][g]
        for src in ["sampled"] + list(opts["methods"]):
            for method, ls in styles.items():
                pts = [(n, r) for n in opts["ns"] if (r := _row(e["rows"], src, method, n)) is not None]
                if not pts:
                    continue
                label = f"{'sampling' if src == 'sampled' else src}: {method.replace('_', ' ')}"
                xs = [n for n, _ in pts]
                ys = [100 * r["accuracy"] for _, r in pts]
                lo = [100 * (r["accuracy"] - r["ci_low"]) for _, r in pts]
                hi = [100 * (r["ci_high"] - r["accuracy"]) for _, r in pts]
                axes[0][j].errorbar(xs, ys, yerr=[lo, hi], ls=ls, marker="o", capsize=3, label=label)
                fl = [total_flops(e["cost"].get(src, {}).get(str(n))) for n in xs]
                if None not in fl:
                    axes[1][j].plot(fl, ys, ls=ls, marker="o", label=label)
        axes[0][j].set(xscale="log", xlabel="N (solutions a problem)", ylabel="accuracy %", title=f"{g}")
        axes[0][j].minorticks_off()
        axes[0][j].set_xticks(opts["ns"], [str(n) for n in opts["ns"]])
        axes[1][j].set(xscale="log", xlabel="FLOPs a problem (generator + reward model)", ylabel="accuracy %")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{report['rm']}: guided search vs best-of-N (arith world {report['world']})", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
