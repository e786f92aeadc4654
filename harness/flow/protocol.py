"""`--protocol paper`: the ImplicitPRM authors' evaluation (PRIME-RL/ImplicitPRM eval/), not the harness's.

Best-of-N (`run` on pools, `leaderboard`), as eval/bon_eval.py and prm_eval_utils.py do it:
  * selection: harness.selection.paper (first n responses, ties to the first response / first answer, responses
    without an answer voting as one class, float32 vote weights);
  * vote weights: sigmoid of the reward for implicit PRMs, the reward itself for other reward models (their
    `"implicit_prm" in args.type` switch), unless --weights is given;
  * reward model options, under any the user sets: the coefficient 0.001 (`score_beta`) for implicit PRMs; for a
    reward model with a `steps` option, the publisher's steps (`steps=publisher`; for implicitprm_release and
    eurus_prm their get_dataloader layout) and bf16 weights (`dtype=bfloat16`: their deepspeed engine's dtype).
ProcessBench (`run --task processbench`), as eval/processbench.py does it: float32 models, implicit PRMs
thresholded on the accumulated reward q_t (reward=accumulative), eurus_prm with their process_eval.sh's reference
Qwen2.5-7B-Instruct and coefficient 0.005 (recipe=eval), other implicit PRMs with 0.001, and the threshold searched on sigmoid(q) over 10,000 evenly spaced values in [0, 1]
(harness.evaluation.step_eval.tune_sigmoid_grid).
The protocol is recorded in the run's config, command and file names ("-paper") and in every leaderboard row.
"""

from __future__ import annotations

import dataclasses

from harness.core.errors import InputError
from reward_models import REWARD_MODELS
from reward_models.implicit import ImplicitPRM

PROTOCOLS = ("harness", "paper")


def check(protocol: str) -> str:
    if protocol not in PROTOCOLS:
        raise InputError(f"unknown protocol '{protocol}'", field="--protocol",
                         expected="harness (the harness's estimators) or paper (the ImplicitPRM authors' "
                                  "eval/bon_eval.py and eval/processbench.py)")
    return protocol


def _is_implicit(rm_name: str) -> bool:
    return issubclass(REWARD_MODELS.get(rm_name), ImplicitPRM)


def rm_options(rm_name: str, given: dict, step_level: bool = False) -> dict:
    """The reward model's options under the paper protocol (the user's own options win)."""
    if rm_name not in REWARD_MODELS:
        return given  # check_config names the unknown reward model
    names = {f.name for f in dataclasses.fields(REWARD_MODELS.get(rm_name).Config)}
    out = {}
    if _is_implicit(rm_name):
        if step_level and rm_name == "eurus_prm":
            out["recipe"] = "eval"  # its reference and coefficient 0.005
        else:
            out["score_beta"] = "0.001"
        if step_level:
            out["reward"] = "accumulative"
    if "steps" in names and not step_level:  # ProcessBench gives its own steps
        out["steps"] = "publisher"
        if "dtype" in names:
            out["dtype"] = "bfloat16"
    return {**out, **given}


def weights(rm_name: str, given: str | None) -> str:
    """bon_eval.py: sigmoid weights for implicit PRMs, raw rewards for the others."""
    if given is not None:
        return given
    return "sigmoid" if rm_name in REWARD_MODELS and _is_implicit(rm_name) else "raw"
