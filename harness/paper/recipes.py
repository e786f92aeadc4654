"""The paper's experiments as named runs: which reward model, with which options, under which label.

`harness tables` runs whichever of these has no result under results/runs/ yet (each one is an ordinary
`python -m harness run --rm RM --set ... --label LABEL`, so every stage is cached and resumable) and then tabulates;
in the order listed, so an interrupted `tables` has the main rows, the noise runs, Math-Shepherd (the longest), AutoPSV,
Table 5 and the CE variants before the scaling sweeps.
Each run starts from the options `harness tune` chose for its reward model on the validation split
(results/tuning/<task>-<scale>-<rm>.options.json), so an ablation differs from its main row only in what it ablates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Experiment:
    label: str
    rm: str
    group: str                      # main | reference | responses | instructions | ce_variants
    options: dict = field(default_factory=dict)
    tuned_from: str | None = None   # whose tuned options to start from (default: rm)
    note: str = ""


def _implicit(loss: str) -> str:
    return f"implicit_{loss}"


EXPERIMENTS: list[Experiment] = [
    *[Experiment(rm, rm, "main") for rm in ("implicit_dpo", "implicit_kto", "implicit_nca", "implicit_ce", "orm",
                                             "random", "text_hash", "loglik")],
    # Run-to-run noise of a trained reward model: the same run with other training seeds (initial order of the data
    # and of the pairs). Training on another CPU perturbs the trajectory much like this, so these rows say how
    # closely a rerun elsewhere can match results/runs/.
    *[Experiment(f"implicit_ce-seed{s}", "implicit_ce", "noise", {"seed": str(s)}) for s in (1, 2)],
    Experiment("math_shepherd", "math_shepherd", "main",
               note="MC step labels (K = 8) for every step of all 2,000 x 8 RM-training rollouts"),
    Experiment("autopsv", "autopsv", "main",
               note="step labels from an outcome verifier's relative confidence change (theta = -0.5); no rollouts "
                    "beyond the RM-training ones"),
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


def by_label() -> dict[str, Experiment]:
    return {e.label: e for e in EXPERIMENTS}


def options_of(exp: Experiment, results: Path, task: str = "arith", scale: str = "default") -> dict:
    """The tuned options of the experiment's reward model, overridden by what the experiment sets."""
    tuned = results / "tuning" / f"{task}-{scale}-{exp.tuned_from or exp.rm}.options.json"
    opts = json.loads(tuned.read_text()) if tuned.is_file() else {}
    return {**opts, **exp.options}


def run_file(results: Path, exp: Experiment, task: str = "arith", scale: str = "default") -> Path:
    return results / "runs" / f"{task}-{scale}-{exp.label}.json"


def command_of(exp: Experiment, results: Path, task: str = "arith", scale: str = "default") -> str:
    parts = ["python -m harness run", f"--rm {exp.rm}"]
    parts += [f"--set {k}={v}" for k, v in sorted(options_of(exp, results, task, scale).items())]
    if exp.label != exp.rm:
        parts.append(f"--label {exp.label}")
    return " ".join(parts)
