"""`qwen_prm`: Qwen2.5-Math-PRM-7B / -72B (Qwen/Qwen2.5-Math-PRM-7B), the recipe of its model card.

    messages  = [system: "Please reason step by step, and put your final answer within \\boxed{}.",
                 user: problem,
                 assistant: "<extra_0>".join(steps) + "<extra_0>"]
    input_ids = tokenizer.encode(apply_chat_template(messages, tokenize=False, add_generation_prompt=False))
    logits    = score(Qwen2Model(input_ids).last_hidden_state)        score = Linear(H, H), ReLU, Linear(H, 2)
    step t    = softmax(logits at the t-th <extra_0>)[1]              (the probability the step is correct)

Steps: `--set steps=harness` (the default) the harness's (harness.core.steps states the rule), stripped; `--set steps=publisher` the card's (its "Step Separation" advice for Qwen2.5-Math-Instruct
responses): text.split("\\n\\n"), the pieces as they are (an empty piece is a step too). The checkpoint's own
class (Qwen2ForProcessRewardModel, remote code) is not run: its Qwen2 body loads as transformers' Qwen2Model and
the two-layer head is rebuilt from its `score.0` / `score.2` tensors.
Scores are probabilities: aggregate with min (the default) or prod; the card names no aggregation, so `run` keeps the
harness's min.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reward_models import register_rm
from reward_models.base import RewardModel
from harness.core.publisher_steps import paragraphs
from reward_models.lm.released import (
    Marked,
    ReleasedConfig,
    ReleasedRM,
    load_tokenizer,
)

SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."


@dataclass
class QwenPRMConfig(ReleasedConfig):
    system: str = field(default=SYSTEM, metadata={"help": "the system message of the chat (the model card's)"})
    step_sep: str = field(default="<extra_0>", metadata={
        "help": "the token after every step whose score is the step's (the model card's)"})


def score_head(tensors: dict):
    """The released head, Linear(H, H) -> ReLU -> Linear(H, 2), from its tensors."""
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
    w0, w2 = tensors["0.weight"], tensors["2.weight"]
    head = torch.nn.Sequential(torch.nn.Linear(w0.shape[1], w0.shape[0]), torch.nn.ReLU(),
                               torch.nn.Linear(w2.shape[1], w2.shape[0]))
    head.load_state_dict({"0.weight": w0, "0.bias": tensors["0.bias"], "2.weight": w2, "2.bias": tensors["2.bias"]})
    return head


@register_rm("qwen_prm")
class QwenPRM(ReleasedRM, RewardModel):
    name = "qwen_prm"
    Config = QwenPRMConfig
    default_model = "Qwen/Qwen2.5-Math-PRM-7B"
    what = "<extra_0> separators"

    def recipe(self):
        c = self.config
        return {"system": c.system, "step_sep": c.step_sep,
                "score": "softmax(score head)[1] at each step separator, Qwen2.5-Math-PRM chat layout"}

    def publisher_steps(self, text: str) -> list[str]:
        return paragraphs(text)

    def load(self, path):
        import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
        body, head = self.body_and_head(path, "score.", score_head)
        return body, lambda h: torch.softmax(head(h).float(), -1)[:, 1], load_tokenizer(path)

    def encode(self, tok, problem: str, text: str, steps: list[str]) -> Marked:
        c = self.config
        messages = [{"role": "system", "content": c.system}, {"role": "user", "content": problem},
                    {"role": "assistant", "content": c.step_sep.join(steps) + c.step_sep}]
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
        ids = tok.encode(text)  # as the card does (Qwen's tokenizer adds no special token here)
        sep = tok.convert_tokens_to_ids(c.step_sep)
        return Marked(ids, [i for i, t in enumerate(ids) if t == sep])
