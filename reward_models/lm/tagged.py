"""Step tags (the released Math-Shepherd PRM's format, and the in-repo step-tag PRMs'): the tag and label tokens of
a checkpoint, responses with a tag after every step, and the model's label logits at each tag.

A step tag is inserted after every step of a response (harness.core.steps.step_spans: after the step's text, before
the blank lines that separate it from the next one, with a space before it, as in Math-Shepherd's data). Tag
positions come from where the tags were inserted (character offsets mapped to tokens), never from searching the
token ids, so a response that happens to contain the tag text is still scored at its steps only.
"""


from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.core import progress as progress_mod
from harness.core import cache
from harness.core.errors import InputError
from harness.core.prompting import build_prompt
from harness.core.steps import step_spans
from reward_models.lm.loading import pad_id
from reward_models.lm.logprobs import hidden_at, make_batches

PRM_CONFIG_FILE = "prm_config.json"
DEFAULT_FORMAT = {"step_tag": "ки", "good": "+", "bad": "-", "input_format": "shepherd"}
INPUT_FORMATS = ("shepherd", "prompt")


@dataclass(frozen=True)
class TagFormat:
    step_tag: str
    good: str
    bad: str
    input_format: str

    def as_dict(self) -> dict:
        return {"step_tag": self.step_tag, "good": self.good, "bad": self.bad, "input_format": self.input_format}


def resolve_format(model_path, step_tag=None, good=None, bad=None, input_format=None) -> TagFormat:
    """Options given > the checkpoint's prm_config.json > Math-Shepherd's defaults."""
    saved: dict = {}
    cfg = Path(model_path) / PRM_CONFIG_FILE if model_path is not None else None
    if cfg is not None and cfg.is_file():
        try:
            saved = json.loads(cfg.read_text(encoding="utf-8"))
        except ValueError as e:
            raise InputError(f"cannot read PRM config: {e}", file=cfg) from None
    given = {"step_tag": step_tag, "good": good, "bad": bad, "input_format": input_format}
    fmt = TagFormat(**{k: given[k] if given[k] is not None else saved.get(k, DEFAULT_FORMAT[k]) for k in given})
    if fmt.input_format not in INPUT_FORMATS:
        raise InputError(f"unknown input format '{fmt.input_format}'", field="input_format",
                         expected=" or ".join(INPUT_FORMATS))
    for name in ("step_tag", "good", "bad"):
        if not getattr(fmt, name):
            raise InputError("must not be empty", field=name)
    if fmt.good == fmt.bad:
        raise InputError("good and bad label tokens are the same", field="bad", expected="two different tokens")
    return fmt


def write_format(folder, fmt: TagFormat) -> None:
    cache.write_json_atomic(Path(folder) / PRM_CONFIG_FILE, fmt.as_dict(), indent=2)


def label_token_ids(tokenizer, good: str, bad: str) -> tuple[int, int]:
    """Token ids of the good and bad labels.

    The released PRM's card takes them as tokenizer.encode(f"{good} {bad}") without bos (sentencepiece "▁+", "▁-");
    that is used when it gives exactly two tokens, else each label must be one token on its own.
    """
    joint = tokenizer(f"{good} {bad}", add_special_tokens=False)["input_ids"]
    if len(joint) == 2 and joint[0] != joint[1]:
        return int(joint[0]), int(joint[1])
    out = []
    for name, label in (("good", good), ("bad", bad)):
        ids = tokenizer(label, add_special_tokens=False)["input_ids"]
        if len(ids) != 1 or ids[0] == tokenizer.unk_token_id:
            raise InputError(f"label '{label}' is not one known token of this tokenizer ({len(ids)} tokens)",
                             field=name, expected="a single-token label")
        out.append(int(ids[0]))
    if out[0] == out[1]:
        raise InputError("good and bad labels map to the same token", field="bad")
    return out[0], out[1]


def pick_step_tag(tokenizer, candidates=("ки", "@", "#")) -> str:
    """The first candidate that is one known token (Math-Shepherd's "ки" for real LLM tokenizers, "@" for arith)."""
    for tag in candidates:
        ids = tokenizer(tag, add_special_tokens=False)["input_ids"]
        if len(ids) == 1 and ids[0] != tokenizer.unk_token_id:
            return tag
    raise InputError("no single-token step tag among " + ", ".join(candidates), field="step_tag",
                     expected="a step tag the tokenizer encodes as one token")


def tag_text(text: str, tag: str) -> tuple[str, list[int]]:
    """The response with " {tag}" after every step, and the character index of each tag's last character."""
    out, ends, at = [], [], 0
    for a, b in step_spans(text):
        step = text[a:b]
        body = step.rstrip()
        out.append(body + " " + tag)
        at += len(body) + 1 + len(tag)
        ends.append(at - 1)
        out.append(step[len(body):])  # the separator after the step (blank lines), unchanged
        at += len(step) - len(body)
    return "".join(out), ends


@dataclass
class TaggedEncoding:
    ids: list[int]
    tag_pos: list[int]  # token index of each step's tag, one per step


def encode_tagged(tokenizer, problem: str, text: str, fmt: TagFormat, tagger=tag_text) -> TaggedEncoding:
    """`tagger(text, tag)` -> (tagged text, index of each tag's last character): the harness's steps (tag_text) or
    a publisher's layout (harness.core.publisher_steps.shepherd_tags)."""
    tagged, ends = tagger(text, fmt.step_tag)
    if fmt.input_format == "shepherd":
        context, specials = problem + " ", True
    else:
        context, specials = build_prompt(tokenizer, problem), False
    enc = tokenizer(context + tagged, add_special_tokens=specials, return_offsets_mapping=True)
    starts = np.array([a if b > a else -1 for a, b in enc["offset_mapping"]])  # special tokens cover no text
    # The token holding a tag's last character: the last token starting at or before it.
    pos = [int(np.searchsorted(np.maximum.accumulate(starts), len(context) + e, side="right") - 1) for e in ends]
    return TaggedEncoding(list(enc["input_ids"]), pos)


def encode_pool_tagged(tokenizer, pool, fmt: TagFormat, tagger=tag_text) -> list[TaggedEncoding]:
    if not getattr(tokenizer, "is_fast", False):
        raise InputError("a fast tokenizer is needed (character offsets locate the step tags)",
                         expected="a tokenizer.json in the model folder")
    return [encode_tagged(tokenizer, p.problem, r.text, fmt, tagger) for p in pool.problems for r in p.responses]


def tag_logits(model, encs: list[TaggedEncoding], label_ids: tuple[int, int], pad: int):
    """[number of tags in the batch, 2] logits of (good, bad) at every tag, row by row (differentiable)."""
    h = hidden_at(model.base_model, [(e.ids, e.tag_pos) for e in encs], pad)
    logits = model.get_output_embeddings()(h)  # only the tag positions go through the output layer
    return logits[:, list(label_ids)].float()


def step_good_probs(model, tokenizer, encs: list[TaggedEncoding], fmt: TagFormat, *, batch_size: int = 8,
                    max_tokens: int | None = None, progress: bool = True,
                    desc: str = "PRM scores") -> list[list[float]]:
    """P(good) / (P(good) + P(bad)) at every tag of every encoding, in order."""
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it

    label_ids = label_token_ids(tokenizer, fmt.good, fmt.bad)
    out: list[list[float] | None] = [None] * len(encs)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), progress_mod.bar(len(encs), desc, "seq", enabled=progress,
                                                      inner=True) as bar:
            for idx in make_batches([len(e.ids) for e in encs], batch_size, max_tokens):
                batch = [encs[i] for i in idx]
                p = torch.softmax(tag_logits(model, batch, label_ids, pad_id(tokenizer)), -1)[:, 0]
                p = p.double().cpu().numpy()
                at = 0
                for i, e in zip(idx, batch):
                    out[i] = p[at:at + len(e.tag_pos)].tolist()
                    at += len(e.tag_pos)
                bar.update(len(idx))
    finally:
        model.train(was_training)
    return out
