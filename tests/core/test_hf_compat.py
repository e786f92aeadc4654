"""No deprecation warnings from our calls into transformers (the kv-cache argument was renamed in 5.x), and
bfloat16 training keeps float32 master weights."""

from __future__ import annotations

import json
import logging
import warnings

import torch

from harness.core.hf_compat import cache_kwargs, output_cache
from harness.core.pool import Pool, Problem, Response


def _pool() -> Pool:
    texts = [("Step 1: 2 * 3 = 6\n\nStep 2: 1 + 6 = 7\n\nThe answer is 7", True),
             ("Step 1: 2 * 3 = 5\n\nStep 2: 1 + 5 = 6\n\nThe answer is 6", False)]
    return Pool([Problem(f"p{i}", "Compute 1 + 2 * 3", "7", [Response(t, t[-1], c) for t, c in texts])
                 for i in range(2)])


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_scoring_and_sampling_raise_no_deprecation_warning(tiny_lm_dir, cache_root):
    import transformers

    from harness.generation.sampling import _generate_generic
    from reward_models import get_rm
    from reward_models.lm.loading import load_causal_lm
    folder = str(tiny_lm_dir("nano", 0))
    model, tok = load_causal_lm(folder)
    transformers.utils.logging.warning_once.cache_clear()  # a warning already shown once would hide a new one
    handler = _Records()
    hf_logger = transformers.utils.logging.get_logger("transformers")
    hf_logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            get_rm("implicit_ce", model=folder, ref=folder, share_prompt=True, progress=False).score(_pool())
            enc = tok(["Compute 1 + 2", "Compute 3 * 4 + 5"], padding=True, padding_side="left",
                      return_tensors="pt", add_special_tokens=False)
            ids = _generate_generic(model, enc["input_ids"], enc["attention_mask"], 1.0, 6, tok.eos_token_id,
                                    tok.pad_token_id, torch.Generator().manual_seed(0))
    finally:
        hf_logger.removeHandler(handler)
    assert ids.shape[0] == 2
    ours = [w for w in caught if issubclass(w.category, (FutureWarning, DeprecationWarning))]
    assert not ours, [str(w.message) for w in ours]
    assert not [m for m in handler.messages if "deprecated" in m], handler.messages


def test_the_cache_keyword_matches_the_installed_transformers(tiny_lm_dir):
    import inspect

    from reward_models.lm.loading import load_causal_lm
    model, _ = load_causal_lm(str(tiny_lm_dir("nano", 0)))
    (name, value), = cache_kwargs(model, "C").items()
    assert value == "C" and name in inspect.signature(type(model).forward).parameters
    out = model(input_ids=torch.tensor([[1, 2, 3]]), use_cache=True)
    assert output_cache(out) is not None and output_cache(out).get_seq_length() == 3


def test_bfloat16_training_keeps_float32_master_weights(tiny_lm_dir, cache_root):
    """With dtype=bfloat16 the weights and AdamW stay float32 and the forward runs under autocast: updates far below
    bf16's resolution (1/256 of a weight) still land, and the checkpoint is float32."""
    from safetensors.torch import load_file

    from reward_models import get_rm
    base = tiny_lm_dir("nano", 0)
    rm = get_rm("implicit_ce", dtype="bfloat16", lr=1e-5, epochs=1, batch_size=4, warmup_ratio=0.0, progress=False)
    ckpt = rm.fit(_pool(), str(base))
    after, before = load_file(ckpt / "model.safetensors"), load_file(base / "model.safetensors")
    assert {t.dtype for t in after.values()} == {torch.float32}
    name = "model.layers.0.mlp.up_proj.weight"
    delta = (after[name] - before[name]).abs()
    tiny = (delta > 0) & (delta < before[name].abs() / 512)
    assert tiny.any()  # a bf16 weight would have rounded these updates away
    assert all(x == x for x in json.loads((ckpt / "metrics.json").read_text())["loss"])
    ss = rm.score(_pool())  # scoring in bfloat16 from the float32 checkpoint
    assert len(ss.step_scores) == 2
