"""Training seeds of one reward model, read together.

The run labelled L (training seed 0, the default) and the runs labelled L-seed1, L-seed2, ... of the same reward
model (harness.paper.recipes names them so; `--set seed=K` sets the training seed: the order of the data and of
the pairs, and the value head's initialisation) are one row of Table 1: each cell is the mean over the seeds with
their range, and the paired comparisons of harness.paper.paired use the seeds' mean per problem.
"""

from __future__ import annotations

import re

SEEDS = (0, 1, 2)  # the training seeds of every trained reward model's Table 1 row
_SEED_LABEL = re.compile(r"^(?P<base>.+)-seed(?P<seed>[0-9]+)$")


def seed_label(label: str, seed: int) -> str:
    """The label of `label`'s run with training seed `seed` (seed 0 is the label itself)."""
    return label if seed == 0 else f"{label}-seed{seed}"


def base_label(label: str) -> str | None:
    """L for a label L-seedK, else None."""
    m = _SEED_LABEL.match(label)
    return m["base"] if m else None


def seed_of(run: dict) -> int:
    return int(run["config"].get("rm_options", {}).get("seed", 0))


def seed_runs(runs: dict[str, dict], label: str) -> list[dict]:
    """The runs of `label` over its training seeds, by seed: runs[label] and every runs[label-seedK] of the same
    reward model; [] when there is none."""
    base = runs.get(label)
    rm = base["config"]["rm"] if base else None
    group = [base] if base else []
    for other, run in runs.items():
        if base_label(other) == label and (rm is None or run["config"]["rm"] == rm):
            group.append(run)
    return sorted(group, key=seed_of)


def is_seed_variant(runs: dict[str, dict], label: str) -> bool:
    """Whether `label` is another seed of a run in `runs` (so it joins that run's row rather than its own)."""
    base = base_label(label)
    return base is not None and base in runs and runs[base]["config"]["rm"] == runs[label]["config"]["rm"]


def values(group: list[dict], of) -> list[float] | None:
    """of(run) for every seed; None when any seed lacks it (a row mixing seeds with gaps would mislead)."""
    vals = [of(run) for run in group]
    return None if not vals or any(v is None for v in vals) else vals


def mean(vals: list[float] | None) -> float | None:
    return None if not vals else sum(vals) / len(vals)


def fmt_seeds(vals: list[float] | None, digits: int = 1) -> str:
    """One seed: the number; several: their mean (min-max)."""
    if not vals:
        return "-"
    if len(vals) == 1:
        return f"{vals[0]:.{digits}f}"
    return f"{mean(vals):.{digits}f} ({min(vals):.{digits}f}-{max(vals):.{digits}f})"
