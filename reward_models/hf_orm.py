"""`hf_orm`: outcome reward models released as sequence classifiers, e.g. Skywork/Skywork-Reward-Llama-3.1-8B-v0.2
(the kind of ORM in the paper's Table 1), with the recipe of its model card:

    input_ids = apply_chat_template([user: problem, assistant: response])
    score     = AutoModelForSequenceClassification(input_ids).logits[0][label]    at the last token (label 0)

one "step" per response (so every aggregation gives the same ranking). The head is the checkpoint's own `score`
layer (transformers' LlamaForSequenceClassification, Qwen2ForSequenceClassification, ... read it at the last
non-padding token; here it is read at the last token of each unpadded sequence, so batching cannot move it).
ORMs with custom heads (ArmoRM's gating network, EurusRM) are not reimplemented: their heads are not small.

Steps: an ORM scores the whole response once, as the card does, whatever the mode: `--set steps=publisher` (the
card's layout, the response as one piece) gives the same numbers as the default `steps=harness`; the mode is still
recorded with the run and keys its cached scores apart, as for every adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.core.errors import InputError
from reward_models import register_rm
from reward_models.base import RewardModel
from reward_models.lm.loading import torch_dtype
from reward_models.lm.released import (
    Marked,
    ReleasedConfig,
    ReleasedRM,
    check_folder,
    load_tokenizer,
)


@dataclass
class HFORMConfig(ReleasedConfig):
    label: int = field(default=0, metadata={
        "help": "which output of the classifier is the reward (num_labels = 1: the only one)"})


@register_rm("hf_orm")
class HFORM(ReleasedRM, RewardModel):
    name = "hf_orm"
    Config = HFORMConfig
    default_model = "Skywork/Skywork-Reward-Llama-3.1-8B-v0.2"
    what = "last tokens"

    def recipe(self):
        return {"label": self.config.label, "score": "sequence-classifier logit at the last token, chat layout"}

    def n_marks(self, steps):
        return 1

    def publisher_steps(self, text: str) -> list[str]:
        return [text]

    def load(self, path):
        import transformers  # lazy: transformers (and torch behind it) cost seconds at import

        c = self.config
        try:
            model = transformers.AutoModelForSequenceClassification.from_pretrained(
                check_folder(path), dtype=torch_dtype(c.dtype), trust_remote_code=False, use_safetensors=True)
        except (OSError, ValueError, KeyError) as e:
            raise InputError(f"cannot load a sequence classifier: {e}", file=path,
                             expected="a *ForSequenceClassification checkpoint transformers knows") from None
        model = model.to(c.device).eval()
        head = next((getattr(model, a) for a in ("score", "classifier") if getattr(model, a, None) is not None), None)
        if head is None or c.label >= model.config.num_labels:
            raise InputError(f"no score layer with output {c.label}", file=path, field="label",
                             expected=f"< num_labels ({model.config.num_labels})")
        return model.base_model, lambda h: head(h)[:, c.label].float(), load_tokenizer(path)

    def encode(self, tok, problem: str, text: str, steps: list[str]) -> Marked:
        conv = [{"role": "user", "content": problem}, {"role": "assistant", "content": text}]
        ids = list(tok.apply_chat_template(conv, tokenize=True, return_dict=False))
        return Marked(ids, [len(ids) - 1])
