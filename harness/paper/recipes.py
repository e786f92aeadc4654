"""The paper's experiments as named runs: which reward model, with which options, under which label.

The main rows are the reward models whose adapters declare a `paper_row` (a new adapter joins `tables`, tox and
the leaderboard by declaring one); the ablations are listed here. `harness tables` runs whichever of these has no
result under results/runs/ yet (each one is an ordinary `python -m harness run --rm RM --set ... --label LABEL`, so
every stage is cached and resumable) and then tabulates; in the order listed, so an interrupted `tables` has the main
rows, their other training seeds, Table 5 and the CE variants before the scaling sweeps.
Each run starts from the options `harness tune` chose for its reward model on the validation split
(results/tuning/<task>-<scale>-<rm>.options.json), so an ablation differs from its main row only in what it ablates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path

from harness.paper.seeds import SEEDS, seed_label
from reward_models import REWARD_MODELS


@dataclass(frozen=True)
class Experiment:
    label: str
    rm: str
    group: str                      # main | seeds | reference | responses | instructions | ce_variants
    options: dict = field(default_factory=dict)
    tuned_from: str | None = None   # whose tuned options to start from (default: rm)
    note: str = ""


def _implicit(loss: str) -> str:
    return f"implicit_{loss}"


def main_experiments() -> list[Experiment]:
    """Every registered reward model with a `paper_row` (the adapter says so in its one file), in row order."""
    rows = sorted((cls.paper_row, name) for name in REWARD_MODELS.names()
                  if (cls := REWARD_MODELS.get(name)).paper_row is not None)
    return [Experiment(name, name, "main", note=REWARD_MODELS.get(name).paper_note) for _, name in rows]


def seed_experiments() -> list[Experiment]:
    """Every trained main row again with the other training seeds (harness.paper.seeds; the order of the data and
    of the pairs, the value head's initialisation): Table 1 shows each trained reward model over its seeds, and the
    claims compare seed-averaged per-problem accuracies. Training on another CPU perturbs the trajectory much like
    a new seed, so the spread also says how closely a rerun elsewhere can match results/runs/."""
    return [Experiment(seed_label(e.label, s), e.rm, "seeds", {"seed": str(s)}) for e in _trained_main()
            for s in SEEDS if s != 0]


def _trained_main() -> list[Experiment]:
    """The main rows a training seed changes: trained reward models whose options include `seed`."""
    return [e for e in main_experiments() if (cls := REWARD_MODELS.get(e.rm)).trainable
            and "seed" in {f.name for f in fields(cls.Config)}]


ABLATIONS: list[Experiment] = [
    # Table 5: the reference model at training and at inference.
    *[e for loss in ("dpo", "ce") for e in (
        Experiment(f"{_implicit(loss)}-noref_infer", _implicit(loss), "reference", {"use_ref": "false"}),
        Experiment(f"{_implicit(loss)}-noref_train", _implicit(loss), "reference", {"train_ref": "false"}),
        Experiment(f"{_implicit(loss)}-noref_both", _implicit(loss), "reference",
                   {"train_ref": "false", "use_ref": "false"}),
    )],
    # CE variants: instruction-wise and dataset-wise balancing, and the step-label second stage (section 5.3).
    Experiment("implicit_ce_inst", "implicit_ce_inst", "ce_variants", tuned_from="implicit_ce"),
    Experiment("implicit_ce_data", "implicit_ce_data", "ce_variants", tuned_from="implicit_ce"),
    Experiment("implicit_ce_stage2", "implicit_ce_stage2", "ce_variants", {"max_instructions": "200"},
               note="step-level KTO on the Math-Shepherd MC labels of 200 instructions, after implicit CE"),
    # Figure 4: responses per instruction (the main rows use all 8). DPO needs a correct and an incorrect response.
    *[Experiment(f"{_implicit(loss)}-r{k}", _implicit(loss), "responses", {"responses_per_instruction": str(k)})
      for loss, ks in (("ce", (1, 2, 4)), ("dpo", (2, 4))) for k in ks],
    # Figure 5: fraction of the RM-training instructions (nested, seeded subsets).
    *[Experiment(f"{_implicit(loss)}-i{pct}", _implicit(loss), "instructions",
                 {"instruction_fraction": str(pct / 100)}) for loss in ("ce", "dpo") for pct in (25, 50, 75)],
]


def experiments() -> list[Experiment]:
    """What `tables` runs, in this order: the main rows, their other training seeds, then the ablations."""
    return main_experiments() + seed_experiments() + ABLATIONS


# The ablation tables of results/leaderboard.md: (row, run label) in table order; a row may be a main run.
ABLATION_TABLES: dict[str, list[tuple[str, str]]] = {
    "reference": [(f"{loss.upper()}: {desc}", f"implicit_{loss}{suffix}") for loss in ("dpo", "ce")
                  for desc, suffix in (("reference at training and inference", ""),
                                       ("reference at training only", "-noref_infer"),
                                       ("reference at inference only", "-noref_train"),
                                       ("no reference", "-noref_both"))],
    "responses": [(f"CE, {k} per instruction", f"implicit_ce-r{k}" if k < 8 else "implicit_ce") for k in (1, 2, 4, 8)]
    + [(f"DPO, {k} per instruction", f"implicit_dpo-r{k}" if k < 8 else "implicit_dpo") for k in (2, 4, 8)],
    "instructions": [(f"{loss.upper()}, {p}% of instructions", f"implicit_{loss}-i{p}" if p < 100
                      else f"implicit_{loss}") for loss in ("ce", "dpo") for p in (25, 50, 75, 100)],
    "ce_variants": [("CE (response-level labels)", "implicit_ce"), ("CE, instruction-balanced", "implicit_ce_inst"),
                    ("CE, dataset-balanced", "implicit_ce_data"),
                    ("CE, then step-level KTO on Math-Shepherd MC labels (200 instructions)", "implicit_ce_stage2")],
}

def seed_rows() -> list[tuple[str, str]]:
    """The per-seed table of results/leaderboard.md: (row, run label) of every trained main row and seed."""
    return [(f"{e.label}, seed {s}", seed_label(e.label, s)) for e in _trained_main() for s in SEEDS]


# The real-model track (harness.paper.real_track): the reward models of each stage, in the order they run.
REAL_TRACK: dict[str, tuple[str, ...]] = {
    "gsm8k-gpt3": ("loglik", "implicit_ce", "implicit_dpo"),
    "processbench": ("loglik", "random", "implicit_ce", "implicit_dpo"),
    "ovm": ("loglik", "implicit_ce"),
}


def tox_envs() -> dict[str, tuple[str, list[list[str]]]]:
    """{env: (description, commands)} of tox's reward-model envs (toxfile.py): one per main experiment, and
    `baselines` for the untrained ones together. A command's "{posargs}" stands for tox's positional arguments."""
    envs, untrained = {}, []
    for e in main_experiments():
        cls = REWARD_MODELS.get(e.rm)
        what = ("train, score and rank " if cls.trainable else "score and rank ") + f"{e.rm} on the arith world"
        envs[e.label] = (what + (f": {e.note}" if e.note else ""),
                         [["python", "-m", "harness", "run", "--rm", e.rm, "{posargs}"]])
        if not cls.trainable:
            untrained.append(e.rm)
    if untrained:
        envs["baselines"] = (f"the untrained baselines ({', '.join(untrained)})",
                             [cmd for rm in untrained for cmd in envs[rm][1]])
    return envs


def by_label() -> dict[str, Experiment]:
    return {e.label: e for e in experiments()}


def options_of(exp: Experiment, results: Path, task: str = "arith", scale: str = "default") -> dict:
    """The tuned options of the experiment's reward model, overridden by what the experiment sets."""
    tuned = results / "tuning" / f"{task}-{scale}-{exp.tuned_from or exp.rm}.options.json"
    opts = json.loads(tuned.read_text()) if tuned.is_file() else {}
    return {**opts, **exp.options}


def run_file(results: Path, exp: Experiment, task: str = "arith", scale: str = "default") -> Path:
    return results / "runs" / f"{task}-{scale}-{exp.label}.json"
