"""`rlhflow_prm`: RLHFlow's Llama3.1-8B-PRM-Mistral-Data / -Deepseek-Data (RLHFlow/Llama3.1-8B-PRM-Deepseek-Data),
the recipe of the authors' evaluation code (RLHFlow/RLHF-Reward-Modeling, math-rm):

    conversation = for each step k: user turn (problem + " " + step if k == 0 else step), assistant turn "+"
    input_ids    = apply_chat_template(conversation)                    the Llama 3.1 chat template
    step k       = softmax(logits[+], logits[-])[0] at the position that predicts the k-th assistant "+"

The authors run one forward per step (the conversation up to step k, logits[-3]: the "+" is followed by <|eot_id|>);
with a causal model that equals reading every step's position in one forward over the whole conversation, which is
what this adapter does. '+' and '-' are the last token of encoding each.

Steps: `--set steps=harness` (the default) the harness's, stripped; `--set steps=publisher` prm_evaluate.py's:
Deepseek-Data ans.split("\\n\\n"), Mistral-Data ans.split("ки\\n") (the step tags of its data; the last step keeps
its closing " ки", as there), every piece stripped. Which convention: `--set variant=deepseek|mistral`, else the
model's name or id (…-Mistral-Data, …-Deepseek-Data), else each response's own "ки\\n" tags.

Aggregation: prm_evaluate.py ranks a response by the mean of its step scores (`publisher_aggregation`), which `run`
uses when no --aggregation is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.core.errors import InputError
from harness.core.publisher_steps import RLHFLOW_VARIANTS, name_variant, rlhflow_steps, rlhflow_variant
from reward_models import register_rm
from reward_models.base import RewardModel
from reward_models.lm.released import (
    Marked,
    ReleasedConfig,
    ReleasedRM,
    load_backbone,
    load_tokenizer,
)


@dataclass
class RLHFlowPRMConfig(ReleasedConfig):
    good: str = field(default="+", metadata={
        "help": "the assistant turn after every step; its last token's probability is the step's score"})
    bad: str = field(default="-", metadata={"help": "the label compared with `good` in the softmax"})
    variant: str | None = field(default=None, metadata={
        "help": "steps=publisher: deepseek | mistral (default: the model's name, else the data)"})

    def __post_init__(self):
        super().__post_init__()
        if self.variant not in (None, *RLHFLOW_VARIANTS):
            raise InputError(f"unknown variant '{self.variant}'", field="variant",
                             expected="deepseek (blank-line steps) or mistral (\"ки\\n\" step tags)")


def turns(problem: str, steps: list[str], good: str) -> list[dict]:
    out = []
    for k, step in enumerate(steps):
        out += [{"role": "user", "content": f"{problem} {step}" if k == 0 else step},
                {"role": "assistant", "content": good}]
    return out


@register_rm("rlhflow_prm")
class RLHFlowPRM(ReleasedRM, RewardModel):
    name = "rlhflow_prm"
    Config = RLHFlowPRMConfig
    default_model = "RLHFlow/Llama3.1-8B-PRM-Deepseek-Data"
    what = "assistant '+' turns"
    publisher_aggregation = "mean"
    aggregation_source = "RLHFlow/RLHF-Reward-Modeling math-rm/prm_evaluate.py ranks by the mean of the step scores"

    def recipe(self):
        c = self.config
        out = {"good": c.good, "bad": c.bad,
               "score": "P(good) against bad at each assistant turn, one user turn per step (RLHFlow layout)"}
        if c.steps == "publisher":
            out["variant"] = c.variant or name_variant(c.model or self.default_model) or "each response's tags"
        return out

    def publisher_steps(self, text: str) -> list[str]:
        c = self.config
        return rlhflow_steps(text, rlhflow_variant(c.variant, c.model or self.default_model, text))

    def label_ids(self, tok) -> list[int]:
        c = self.config
        return [tok.encode(c.good, add_special_tokens=False)[-1], tok.encode(c.bad, add_special_tokens=False)[-1]]

    def load(self, path):
        import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
        model = load_backbone(path, self.config.dtype, self.config.device, causal_lm=True)
        tok = load_tokenizer(path)
        out, ids = model.get_output_embeddings(), self.label_ids(tok)
        return model.base_model, lambda h: torch.softmax(out(h)[:, ids].float(), -1)[:, 0], tok

    def encode(self, tok, problem: str, text: str, steps: list[str]) -> Marked:
        conv = turns(problem, steps, self.config.good)
        ids = list(tok.apply_chat_template(conv, tokenize=True, return_dict=False))
        good = self.label_ids(tok)[0]
        marks = []
        for k in range(1, len(steps) + 1):  # where the k-th "+" is predicted: its prefix conversation's "+" - 1
            prefix = list(tok.apply_chat_template(conv[:2 * k], tokenize=True, return_dict=False))
            if ids[:len(prefix)] != prefix:
                raise InputError("the chat template does not extend a conversation by appending to it",
                                 field="model", expected="a Llama-3-style template (RLHFlow's PRMs use it)")
            at = max(i for i, t in enumerate(prefix) if t == good)
            marks.append(at - 1)
        return Marked(ids, marks)
