"""Loading causal LMs and their tokenizers from local folders, safely.

Only safetensors (or GGUF) weights are loaded: a folder holding only pickle files (pytorch_model.bin, *.pt) is refused,
because unpickling runs arbitrary code. Remote code is never trusted. Releases known to keep pickle weights on their
main branch and safetensors on a Hub pull-request branch are named in the refusal (SAFETENSORS_BRANCHES).

A Llama-2 / Mistral tokenizer shipped as a sentencepiece `tokenizer.model` without tokenizer.json (Math-Shepherd's
release) is converted by transformers with `sentencepiece` and `protobuf`, both project dependencies.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

from harness.core.errors import InputError

DTYPES = ("float32", "bfloat16", "float16", "auto")
_PICKLE_GLOBS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")

# Released checkpoints whose main branch holds only pickle weights while a Hub pull-request branch holds a safetensors
# conversion of the same weights. Issue 33 reports the branches as refs/pr/4 and refs/pr/5 without saying which is
# which, and this machine cannot reach the Hub to check: the refusal names the candidates rather than guess.
SAFETENSORS_BRANCHES = {
    "Skywork/Skywork-o1-Open-PRM-Qwen-2.5-7B": "refs/pr/4 or refs/pr/5",
    "peiyi9979/math-shepherd-mistral-7b-prm": "refs/pr/4 or refs/pr/5",
}


def known_release(name: str) -> str | None:
    """The SAFETENSORS_BRANCHES id that `name` (a Hub id, a folder path or a config's _name_or_path) refers to."""
    low = str(name).lower().rstrip("/")
    parts = set(low.split("/"))   # a folder named for the release, or a hub cache folder models--org--name/...
    return next((rid for rid in SAFETENSORS_BRANCHES if low == rid.lower() or rid.split("/")[1].lower() in parts
                 or "models--" + rid.lower().replace("/", "--") in parts), None)


def safetensors_advice(name: str | None) -> str:
    """What to do about a checkpoint without safetensors weights: the release's safetensors branch where one is known."""
    rid = known_release(name) if name else None
    if rid is None:
        return ("*.safetensors weights: a revision of the repository that has them (--set revision=...), or a "
                "conversion made with `save_pretrained` in a trusted session")
    return (f"the safetensors weights of {rid}, which are on a Hub pull-request branch, not main "
            f"({SAFETENSORS_BRANCHES[rid]}; see https://huggingface.co/{rid}/discussions): --set revision=refs/pr/N, "
            f"or `huggingface-cli download {rid} --revision refs/pr/N --local-dir DIR` and --model DIR")


def torch_dtype(name: str):
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
    if name not in DTYPES:
        raise InputError(f"unknown dtype '{name}'", field="dtype", expected="one of " + ", ".join(DTYPES))
    return name if name == "auto" else getattr(torch, name)


def resolve_model_path(path, gguf_file: str | None = None) -> tuple[Path, str | None]:
    """(folder, gguf file name or None); a path to a .gguf file is split into its folder and name."""
    p = Path(path)
    if not p.exists():
        raise InputError("model not found", file=p, expected="a local model folder (download it first, e.g. "
                         "`huggingface-cli download NAME --local-dir DIR`)")
    if p.is_file():
        if p.suffix != ".gguf":
            raise InputError("not a model folder", file=p, expected="a folder with config.json and *.safetensors, "
                             "or a .gguf file")
        return p.parent, p.name
    if gguf_file is not None:
        if not (p / gguf_file).is_file():
            raise InputError("GGUF file not found", file=p / gguf_file)
        return p, gguf_file
    if not (p / "config.json").is_file():
        raise InputError("no config.json in model folder", file=p, expected="a Hugging Face model folder")
    if not list(p.glob("*.safetensors")):
        pickled = sorted(f.name for g in _PICKLE_GLOBS for f in p.glob(g))
        if pickled:
            raise InputError(f"only pickle weights ({', '.join(pickled)}); refusing to unpickle them", file=p,
                             expected=safetensors_advice(_release_name(p)))
        raise InputError("no weight files in model folder", file=p, expected="*.safetensors")
    return p, None


def _release_name(folder: Path) -> str:
    """The release a local folder holds, by its name or its config's _name_or_path (for safetensors_advice)."""
    try:
        named = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("_name_or_path") or ""
    except (OSError, ValueError, AttributeError):
        named = ""
    return next((n for n in (str(named), str(folder.resolve())) if known_release(n)), str(folder))


def _needs_sentencepiece(folder: Path) -> bool:
    if (folder / "tokenizer.json").is_file() or not (folder / "tokenizer.model").is_file():
        return False
    try:
        import google.protobuf  # noqa: F401
        import sentencepiece  # noqa: F401
    except ImportError:
        return True
    return False


def load_tokenizer(path, gguf_file: str | None = None):
    from transformers import AutoTokenizer  # lazy: transformers (and torch behind it) cost seconds at import
    folder, gguf_file = resolve_model_path(path, gguf_file)
    if gguf_file is None and not any((folder / f).is_file() for f in _TOKENIZER_FILES):
        raise InputError("no tokenizer files in model folder", file=folder,
                         expected="one of " + ", ".join(_TOKENIZER_FILES))
    if gguf_file is None and _needs_sentencepiece(folder):
        # transformers would otherwise fall through to its tiktoken reader and ask for tiktoken, which is not it
        raise InputError("a sentencepiece tokenizer.model without tokenizer.json needs the `sentencepiece` and "
                         "`protobuf` packages", file=folder / "tokenizer.model",
                         expected="`pip install sentencepiece protobuf` (the project's dependencies: pip install -e .)")
    try:
        return AutoTokenizer.from_pretrained(folder, gguf_file=gguf_file, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as e:
        raise InputError(f"cannot load tokenizer: {e}", file=folder) from None


def load_causal_lm(path, dtype: str = "float32", device: str = "cpu", gguf_file: str | None = None,
                   with_tokenizer: bool = True):
    """(model in eval mode on `device`, tokenizer or None)."""
    from transformers import AutoModelForCausalLM  # lazy: transformers (and torch behind it) cost seconds at import
    folder, gguf_file = resolve_model_path(path, gguf_file)
    tokenizer = load_tokenizer(folder, gguf_file) if with_tokenizer else None
    kwargs = {"dtype": torch_dtype(dtype), "trust_remote_code": False}
    if gguf_file is None:
        kwargs["use_safetensors"] = True
    else:
        kwargs["gguf_file"] = gguf_file
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
    except (OSError, ValueError, KeyError) as e:
        raise InputError(f"cannot load model: {e}", file=folder) from None
    model.to(device).eval()
    return model, tokenizer


def save_model(model, tokenizer, folder) -> None:
    """save_pretrained with safetensors on every transformers version (v5 has no `safe_serialization` flag)."""
    params = inspect.signature(model.save_pretrained).parameters
    extra = {"safe_serialization": True} if "safe_serialization" in params else {}
    model.save_pretrained(folder, **extra)
    if tokenizer is not None:
        tokenizer.save_pretrained(folder)


def check_same_tokenizer(tok_a, tok_b, names=("policy", "reference")) -> None:
    """Log-ratios are only meaningful if both models read the same token ids."""
    va, vb = tok_a.get_vocab(), tok_b.get_vocab()
    if va == vb and tok_a.eos_token_id == tok_b.eos_token_id:
        return
    diff = next((t for t in sorted(set(va) | set(vb)) if va.get(t) != vb.get(t)), None)
    detail = (f"vocab sizes {len(va)} vs {len(vb)}" + (f"; token {diff!r} has id {va.get(diff)} vs {vb.get(diff)}"
                                                       if diff is not None else "; eos ids differ"))
    raise InputError(f"{names[0]} and {names[1]} tokenizers differ ({detail})",
                     file=getattr(tok_b, "name_or_path", None) or None, field=names[1],
                     expected="a policy fine-tuned from the reference model")


def pad_id(tokenizer) -> int:
    """Any id works as padding under the attention mask; prefer pad, then eos."""
    for t in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if t is not None:
            return int(t)
    return 0
