"""The `steps` option of released reward models, and how each publisher's own code cuts a response into steps.

`steps=harness` (the default) scores the harness's steps (harness.core.steps), the same for every reward model of a
pool, so reward models can be compared on one footing. `steps=publisher` cuts and lays out a response as the
release's own code does, so a number can be set beside the publisher's; the adapters name the file they follow:

    qwen_prm     text.split("\\n\\n"), pieces kept as they are
                 (Qwen/Qwen2.5-Math-PRM-7B model card)
    rlhflow_prm  Deepseek-Data: text.split("\\n\\n"); Mistral-Data: text.split("ки\\n"); each piece stripped
                 (RLHFlow/RLHF-Reward-Modeling math-rm/prm_evaluate.py)
    skywork_prm  text.split("\\n"): every piece scored, empty ones too, none stripped
                 (SkyworkAI/skywork-o1-prm-inference model_utils/io_utils.py)
    hf_prm       " ки" after every non-blank line; blank lines stay, untagged
                 (peiyi9979/math-shepherd-mistral-7b-prm model card)
    hf_orm       the whole response, one score, in both modes (Skywork/Skywork-Reward-Llama-3.1-8B-v0.2 model card)

The option is declared and checked here only (StepsOption); anything that records a run reads a reward model's
`config.steps` wherever its Config has one (harness.scoring, harness.flow).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.core.errors import InputError

STEP_MODES = ("harness", "publisher")
RLHFLOW_VARIANTS = ("deepseek", "mistral")
SHEPHERD_TAG = "ки"


@dataclass
class StepsOption:
    """Mixin of the Configs of released adapters: the `steps` option and its check."""
    steps: str = field(default="harness", metadata={"help": (
        "harness: the harness's steps, the same for every reward model of a pool | publisher: cut and laid out as "
        "the release's own code does (the adapter's docstring names it)")})

    def __post_init__(self):
        if self.steps not in STEP_MODES:
            raise InputError(f"unknown steps mode '{self.steps}'", field="steps",
                             expected="harness (the default: the harness's steps) or publisher (the release's own "
                                      "splitting and layout)")


def is_default(steps: str | None) -> bool:
    """True for a reward model without the option or with the harness's steps: nothing to record or key apart."""
    return steps in (None, "harness")


def paragraphs(text: str) -> list[str]:
    """Qwen2.5-Math-PRM's card: steps are the pieces between double line breaks, as they are."""
    return text.split("\n\n")


def lines(text: str, step_token: str = "\n") -> list[str]:
    """Skywork's prepare_input: response.split(step_token), empty pieces included (each still ends with a step token),
    none stripped."""
    return text.split(step_token)


def name_variant(model: str) -> str | None:
    """RLHFlow's data convention named by a model's id or folder name (…-Mistral-Data, …-Deepseek-Data), if any."""
    name = str(model).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].lower()
    return next((v for v in RLHFLOW_VARIANTS if v in name), None)


def rlhflow_variant(given: str | None, model: str, text: str) -> str:
    """Which of RLHFlow's two conventions cuts a response: the option if given, else the model's name or id, else the
    response itself (Mistral-Data's "ки\\n" step tags, or blank-line paragraphs)."""
    return given or name_variant(model) or ("mistral" if SHEPHERD_TAG + "\n" in text else "deepseek")


def rlhflow_steps(text: str, variant: str) -> list[str]:
    """prm_evaluate.py: ans.split("ки\\n") (model_type Mistral) or ans.split("\\n\\n"), every piece stripped."""
    return [s.strip() for s in text.split(SHEPHERD_TAG + "\n" if variant == "mistral" else "\n\n")]


def shepherd_tags(text: str, tag: str) -> tuple[str, list[int]]:
    """Math-Shepherd's layout: the response with " {tag}" at the end of every non-blank line (trailing spaces of the
    line dropped), and the character index of each tag's last character. A response with no non-blank line gets one
    tag at its end, so that it still has one score."""
    out, ends, at = [], [], 0
    pieces = text.split("\n")
    for i, line in enumerate(pieces):
        if line.strip():
            line = line.rstrip() + " " + tag
            ends.append(at + len(line) - 1)
        out.append(line)
        at += len(line) + (1 if i < len(pieces) - 1 else 0)
    tagged = "\n".join(out)
    if not ends:
        tagged += " " + tag
        ends.append(len(tagged) - 1)
    return tagged, ends
