"""What the adapters of released reward models share: finding a checkpoint by Hugging Face id or folder, loading its
backbone without its custom code, reading a small head's tensors, and scoring a response at marked token positions.

A released checkpoint whose head is not a transformers class (Qwen2.5-Math-PRM's two-layer score head, Skywork's value
head) is loaded as its plain backbone (AutoModel / AutoModelForCausalLM, trust_remote_code off, safetensors only),
and the head is rebuilt here from the checkpoint's own tensors: no code of the checkpoint runs.

Every adapter encodes a response as token ids plus the positions ("marks") where a step's score is read, one per
step; `marked_values` runs the backbone over right-padded, length-bucketed batches with position ids from the mask,
so a response's scores do not depend on its batch or padding (tests/reward_models/test_released.py checks against one
forward per step prefix).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from harness.core import progress as progress_mod
from harness.core.errors import InputError
from harness.core.fingerprint import fingerprint
from harness.core.publisher_steps import StepsOption
from harness.core.steps import split_steps
from reward_models.lm.loading import load_tokenizer as load
from reward_models.lm.loading import pad_id, resolve_model_path, safetensors_advice, torch_dtype
from reward_models.lm.logprobs import hidden_at, make_batches, regroup

_SNAPSHOT_FILES = ["*.json", "*.safetensors", "*.jinja", "tokenizer.model", "*.txt", "*.tiktoken"]


def locate(model: str | None, field: str = "model", revision: str | None = None) -> str:
    """A local folder for `model`: the folder itself, or the Hugging Face snapshot of an id at `revision` (a branch,
    tag, commit or PR ref such as refs/pr/4; default main), downloaded where there is network, read from the local hub
    cache where there is not. Every later load (weights, head tensors, tokenizer) reads this one folder, so the
    revision reaches all of them. Pickle weights are never fetched: a snapshot without safetensors is refused here,
    naming the release's safetensors branch where one is known."""
    if model is None:
        raise InputError("no model given", field=field, expected="a Hugging Face id or a local folder (--model)")
    if Path(model).exists():
        if revision:
            raise InputError(f"revision '{revision}' given for the local folder '{model}'", field="revision",
                             expected="a revision only with a Hugging Face id (a folder holds whatever was "
                                      "downloaded into it)")
        return str(model)
    if model.count("/") != 1 or model.startswith((".", "/", "~")) or Path(model).parent.is_dir():
        raise InputError(f"model '{model}' not found", file=model, field=field,
                         expected="a local model folder, or a Hugging Face id such as Qwen/Qwen2.5-Math-PRM-7B")
    at = f" at revision '{revision}'" if revision else ""
    try:
        from huggingface_hub import snapshot_download  # lazy: huggingface_hub is only needed with a model
        folder = snapshot_download(model, revision=revision or None, allow_patterns=_SNAPSHOT_FILES,
                                   local_files_only=os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", ""))
    except Exception as e:  # no network, no such id or revision, gated repository: one message that says what to do
        rev = f" --revision {revision}" if revision else ""
        raise InputError(f"Hugging Face model '{model}'{at} is not on this machine and could not be downloaded "
                         f"({type(e).__name__})", field="revision" if revision else field,
                         expected=f"an existing revision, or a local copy: `huggingface-cli download {model}{rev} "
                                  "--local-dir DIR`, then --model DIR (or --set model=DIR)") from None
    if not any(Path(folder).glob("*.safetensors")):
        raise InputError(f"Hugging Face model '{model}'{at} has no safetensors weights (pickle weights such as "
                         "pytorch_model.bin are never downloaded or unpickled)", field=field,
                         expected=safetensors_advice(model))
    return folder


def check_folder(path: str) -> Path:
    folder, gguf = resolve_model_path(path)
    if gguf is not None:
        raise InputError("a GGUF file cannot hold this reward model's head", file=path,
                         expected="the released Hugging Face folder (config.json, *.safetensors)")
    return folder


def load_tokenizer(path: str):
    return load(check_folder(path))


def load_backbone(path: str, dtype: str = "float32", device: str = "cpu", causal_lm: bool = False):
    """The transformer body of a checkpoint (its lm_head too with causal_lm), eval mode, remote code never run."""
    import transformers  # lazy: transformers (and torch behind it) cost seconds at import

    folder = check_folder(path)
    cls = transformers.AutoModelForCausalLM if causal_lm else transformers.AutoModel
    try:
        model = cls.from_pretrained(folder, dtype=torch_dtype(dtype), trust_remote_code=False, use_safetensors=True)
    except (OSError, ValueError, KeyError) as e:
        raise InputError(f"cannot load the backbone: {e}", file=folder,
                         expected="a checkpoint of an architecture transformers knows (Qwen2, Llama, ...)") from None
    return model.to(device).eval()


def read_tensors(path: str, prefix: str) -> dict:
    """Every tensor of the checkpoint's safetensors files whose name starts with `prefix` (prefix removed)."""
    from safetensors import safe_open  # lazy: safetensors is only needed to read or write weights
    folder = check_folder(path)
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        files = sorted({folder / f for k, f in json.loads(index.read_text())["weight_map"].items()
                        if k.startswith(prefix)})
    else:
        files = sorted(folder.glob("*.safetensors"))
    out = {}
    for f in files:
        with safe_open(str(f), framework="pt") as st:
            for k in st.keys():
                if k.startswith(prefix):
                    out[k[len(prefix):]] = st.get_tensor(k)
    if not out:
        raise InputError(f"no '{prefix}*' tensors in the checkpoint", file=folder,
                         expected="the released checkpoint, whose head is stored under that name")
    return out


@dataclass
class Marked:
    ids: list[int]
    marks: list[int]   # token positions whose hidden state gives a step's score, one per step


def marked_values(body, encs: list[Marked], pad: int, head, *, batch_size: int = 8, max_tokens: int | None = None,
                  progress: bool = True, desc: str = "scores") -> list[list[float]]:
    """head(hidden states at the marks) of every encoding, in order: head maps [n, hidden] -> [n] floats."""
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it

    out: list = [None] * len(encs)
    with torch.inference_mode(), progress_mod.bar(len(encs), desc, "seq", enabled=progress, inner=True) as bar:
        for idx in make_batches([len(e.ids) for e in encs], batch_size, max_tokens):
            batch = [encs[i] for i in idx]
            values = head(hidden_at(body, [(e.ids, e.marks) for e in batch], pad))
            values, at = values.double().cpu().numpy(), 0
            for i, e in zip(idx, batch):
                out[i] = values[at:at + len(e.marks)].tolist()
                at += len(e.marks)
            bar.update(len(idx))
    return out


def check_marks(enc: Marked, n_steps: int, problem_id: str, what: str) -> Marked:
    if len(enc.marks) != n_steps:
        raise InputError(f"{len(enc.marks)} {what} for {n_steps} steps (a response containing the separator "
                         "text itself?)", field=f"problem {problem_id}", expected=f"one {what} per step")
    return enc


@dataclass
class ReleasedConfig(StepsOption):
    model: str | None = field(default=None, metadata={
        "help": "Hugging Face id or local folder (each adapter names the released default)"})
    revision: str | None = field(default=None, metadata={
        "help": "Hub branch, tag, commit or PR ref of the id (e.g. refs/pr/4); default main"})
    dtype: str = field(default="float32", metadata={"help": "torch dtype of the model: bfloat16 on a GPU"})
    device: str = field(default="cpu", metadata={"help": "torch device of scoring (cpu, cuda, ...)"})
    score_batch_size: int = field(default=8, metadata={"help": "responses per forward pass"})
    max_batch_tokens: int | None = field(default=None, metadata={
        "help": "at most this many padded tokens per batch (memory); default: no limit"})
    progress: bool = field(default=True, metadata={"help": "show progress bars"})


class ReleasedRM:
    """Mixin for RewardModel adapters of released checkpoints: subclasses give `default_model`, `recipe()` (what
    determines the scores besides the weights), `load(path)` -> (body, head, tokenizer), `publisher_steps(text)`
    (the release's own cut, harness.core.publisher_steps) and `encode(tok, problem, text, steps)` -> Marked with one
    mark per step (`n_marks`)."""
    default_model = ""
    what = "step marks"

    def publisher_steps(self, text: str) -> list[str]:
        raise NotImplementedError

    def steps_of(self, text: str) -> list[str]:
        """The steps scored: the harness's (the default), or the publisher's with --set steps=publisher."""
        return self.publisher_steps(text) if self.config.steps == "publisher" else split_steps(text)

    def model_path(self) -> str:
        return locate(self.config.model or self.default_model, revision=self.config.revision)

    def recipe(self) -> dict:
        raise NotImplementedError

    def n_marks(self, steps: list[str]) -> int:
        return len(steps)

    def body_and_head(self, path: str, prefix: str, build):
        """The checkpoint's body and its head, built by `build(tensors)` from the tensors named prefix*, on the
        body's device and dtype."""
        body = load_backbone(path, self.config.dtype, self.config.device)
        p = next(body.parameters())
        return body, build(read_tensors(path, prefix)).to(device=p.device, dtype=p.dtype).eval()

    def scoring_identity(self):
        c = self.config
        return {"model_fingerprint": fingerprint(self.model_path()), "dtype": c.dtype, **self.recipe()}

    def compute_scores(self, pool):
        c = self.config
        body, head, tok = self.load(self.model_path())
        encs = []
        for p in pool.problems:
            for r in p.responses:
                steps = self.steps_of(r.text)
                enc = self.encode(tok, p.problem, r.text, steps)
                encs.append(check_marks(enc, self.n_marks(steps), p.id, self.what))
        values = marked_values(body, encs, pad_id(tok), head, batch_size=c.score_batch_size,
                               max_tokens=c.max_batch_tokens, progress=c.progress, desc=f"{self.name} scores")
        return regroup(values, pool), {"model": self.config.model or self.default_model}
