"""`hf_prm`: any causal LM trained to say good/bad at a step tag (the released Math-Shepherd PRM's format).

A step tag is inserted after every step of a response (harness.core.steps.step_spans: after the step's text, before the
blank lines that separate it from the next one, with a space before it, as in Math-Shepherd's data:
"Step 1: ... ки\\nStep 2: ... ки"). The step score is read at the tag's (last) token, where the model predicts the
label token:

    score_t = P(good) / (P(good) + P(bad)) = softmax(logit[good], logit[bad])[0]

so it is a probability and `prod`/`min`/`last` aggregations are meaningful. Input layouts:
    "shepherd": "{question} {tagged response}" with the tokenizer's special tokens (bos), as the released PRM's card
                scores it (peiyi9979/math-shepherd-mistral-7b-prm: --set step_tag=ки, good '+', bad '-').
    "prompt":   harness.core.prompting.build_prompt(problem) + tagged response, the context the response was written in;
                the in-repo `math_shepherd` checkpoints use it.
A checkpoint may carry prm_config.json ({step_tag, good, bad, input_format}); options left unset are read from it,
else Math-Shepherd's defaults ("ки", "+", "-", "shepherd").

Tag positions come from where the tags were inserted (character offsets mapped to tokens), never from searching the
token ids, so a response that happens to contain the tag text is still scored at its steps only. For the
character-level arith tokenizer "ки" is not in the vocabulary: the in-repo checkpoints use "@", a printable
character that arith problems and solutions never contain and that is one token.

Steps: `--set steps=harness` (the default) tags the harness's steps as above; `--set steps=publisher` lays a response
out as the released PRM's card does (peiyi9979/math-shepherd-mistral-7b-prm, README; Math-Shepherd's data): " ки" at
the end of every non-blank line, blank lines kept and not steps (harness.core.publisher_steps.shepherd_tags), in the
"shepherd" input format (the card's; the default when the checkpoint carries no prm_config.json).

Aggregation: the Math-Shepherd paper (Wang et al. 2024) ranks a solution by its lowest step score, the harness's
default min as well (`publisher_aggregation`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.core.errors import InputError
from harness.core.fingerprint import fingerprint
from harness.core.publisher_steps import StepsOption, shepherd_tags
from reward_models import register_rm
from reward_models.base import RewardModel
from reward_models.lm.loading import load_causal_lm
from reward_models.lm.logprobs import regroup
from reward_models.lm.released import locate
from reward_models.lm.tagged import (
    TagFormat,
    encode_pool_tagged,
    resolve_format,
    step_good_probs,
    tag_text,
)


@dataclass
class HFPRMConfig(StepsOption):
    model: str | None = field(default=None, metadata={
        "help": "a local causal-LM folder (e.g. math-shepherd-mistral-7b-prm, downloaded)"})
    revision: str | None = field(default=None, metadata={
        "help": "Hub branch, tag, commit or PR ref when model is an id (e.g. refs/pr/4)"})
    step_tag: str | None = field(default=None, metadata={
        "help": "the tag after every step; default: the checkpoint's prm_config.json, else \"ки\""})
    good: str | None = field(default=None, metadata={
        "help": "the label token of a good step; default: prm_config.json, else \"+\""})
    bad: str | None = field(default=None, metadata={
        "help": "the label token of a bad step; default: prm_config.json, else \"-\""})
    input_format: str | None = field(default=None, metadata={
        "help": "shepherd | prompt (default: prm_config.json, else shepherd)"})
    dtype: str = field(default="float32", metadata={"help": "torch dtype of the model: bfloat16 on a GPU"})
    device: str = field(default="cpu", metadata={"help": "torch device of scoring (cpu, cuda, ...)"})
    score_batch_size: int = field(default=32, metadata={"help": "responses per forward pass"})
    max_batch_tokens: int | None = field(default=None, metadata={
        "help": "at most this many padded tokens per batch (memory); default: no limit"})
    progress: bool = field(default=True, metadata={"help": "show progress bars"})


def score_pool(model_path, pool, fmt: TagFormat, *, dtype="float32", device="cpu", batch_size=8, max_tokens=None,
               progress=True, desc="PRM scores", tagger=tag_text) -> list[list[list[float]]]:
    model, tok = load_causal_lm(model_path, dtype=dtype, device=device)
    encs = encode_pool_tagged(tok, pool, fmt, tagger)
    probs = step_good_probs(model, tok, encs, fmt, batch_size=batch_size, max_tokens=max_tokens,
                            progress=progress, desc=desc)
    return regroup(probs, pool)


@register_rm("hf_prm")
class HFPRM(RewardModel):
    """Scores with a step-tag PRM checkpoint; nothing to train."""
    name = "hf_prm"
    Config = HFPRMConfig
    publisher_aggregation = "min"
    aggregation_source = "the Math-Shepherd paper ranks a solution by its lowest step score"

    def _model(self) -> str:
        if self.config.model is None:
            raise InputError(f"{self.name} needs a PRM checkpoint: pass --model PATH", field="model")
        # a folder, or a Hugging Face id (e.g. peiyi9979/math-shepherd-mistral-7b-prm) at its revision
        # adapters built on this one (autopsv, math_shepherd) score their own checkpoint folders: no revision there
        return locate(self.config.model, revision=getattr(self.config, "revision", None))

    def tag_format(self) -> TagFormat:
        c = self.config
        return resolve_format(self._model(), c.step_tag, c.good, c.bad, c.input_format)

    def scoring_identity(self):
        c = self.config
        return {"model_fingerprint": fingerprint(self._model()), **self.tag_format().as_dict(), "dtype": c.dtype,
                "score": "P(good)/(P(good)+P(bad)) at each step tag"}

    def compute_scores(self, pool):
        c = self.config
        fmt = self.tag_format()
        publisher = getattr(c, "steps", "harness") == "publisher"  # math_shepherd (in-repo) has no steps option
        steps = score_pool(self._model(), pool, fmt, dtype=c.dtype, device=c.device, batch_size=c.score_batch_size,
                           max_tokens=c.max_batch_tokens, progress=c.progress, desc=f"{self.name} scores",
                           tagger=shepherd_tags if publisher else tag_text)
        return steps, {"model": str(self._model())}
