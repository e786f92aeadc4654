"""`skywork_prm`: Skywork-o1-Open-PRM-Qwen-2.5-1.5B / -7B (Skywork/Skywork-o1-Open-PRM-Qwen-2.5-7B), the recipe of
the authors' inference code (github.com/SkyworkAI/skywork-o1-prm-inference, io_utils.prepare_input and PRM_MODEL):

    input_ids = encode(bos_token + problem + "\\n") + for each step: encode(step) + [id of "\\n"]
    value     = v_head.summary(Qwen2 hidden state)                   one Linear(H, 1), TRL's value-head layout
    step t    = sigmoid(value at the "\\n" that ends step t)

Steps: `--set steps=harness` (the default) the harness's, stripped (a step of several lines keeps its inner line
breaks); `--set steps=publisher` the authors' (model_utils/io_utils.py prepare_input, step_token "\\n"):
response.split("\\n"), every piece scored, empty pieces too (a blank line is a step holding only its "\\n"), none
stripped. The checkpoint is a Qwen2ForCausalLM with the head's tensors stored as `v_head.summary.*`: the
body loads as transformers' Qwen2Model and the head is rebuilt from those tensors (its dropout is off at inference).
A tokenizer without a bos token gets none. Scores are probabilities: aggregate with min or prod (the inference code
returns step rewards only and names no aggregation, so `run` keeps the harness's min).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.core.publisher_steps import lines
from reward_models import register_rm
from reward_models.base import RewardModel
from reward_models.lm.released import (
    Marked,
    ReleasedConfig,
    ReleasedRM,
    load_tokenizer,
)


@dataclass
class SkyworkPRMConfig(ReleasedConfig):
    step_token: str = field(default="\n", metadata={
        "help": "the token after every step whose value is the step's score (and steps=publisher's separator: the "
                "authors' step_token)"})


def value_head(tensors: dict):
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
    w = tensors["weight"]
    head = torch.nn.Linear(w.shape[1], w.shape[0])
    head.load_state_dict({"weight": w, "bias": tensors["bias"]})
    return head


@register_rm("skywork_prm")
class SkyworkPRM(ReleasedRM, RewardModel):
    name = "skywork_prm"
    Config = SkyworkPRMConfig
    default_model = "Skywork/Skywork-o1-Open-PRM-Qwen-2.5-7B"

    def recipe(self):
        return {"step_token": self.config.step_token,
                "score": "sigmoid(v_head) at each step's closing step token, bos + problem + newline layout"}

    def publisher_steps(self, text: str) -> list[str]:
        return lines(text, self.config.step_token)

    def load(self, path):
        import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
        body, head = self.body_and_head(path, "v_head.summary.", value_head)
        return body, lambda h: torch.sigmoid(head(h).float().squeeze(-1)), load_tokenizer(path)

    def encode(self, tok, problem: str, text: str, steps: list[str]) -> Marked:
        step_id = tok.encode(self.config.step_token, add_special_tokens=False)[-1]
        ids = tok.encode((tok.bos_token or "") + problem + "\n", add_special_tokens=False)
        marks = []
        for step in steps:
            ids += tok.encode(step, add_special_tokens=False) + [step_id]
            marks.append(len(ids) - 1)
        return Marked(ids, marks)
