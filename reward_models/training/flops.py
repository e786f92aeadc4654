"""What a reward model cost to develop, in FLOPs, stored as compute.json beside its checkpoint.

The paper's Figure 2 compares the development overhead of an implicit PRM with a Math-Shepherd PRM. We use the
standard transformer estimates (Kaplan et al. 2020), with N = every parameter of the model (embeddings included;
the arith models are so small that leaving them out would change the ratios):

    data collection  (prompt + generated) tokens x 2N_gen   (the RM-training rollouts, plus Math-Shepherd's MC
                     completions; every sample pays the forward pass over its prompt, and an MC completion over
                     the prompt and the prefix it continues: the prefill)
    training         trained tokens   x 6N       (forward + backward over every sequence of every optimizer step)
    reference        forward tokens   x 2N       (no-grad passes: pi_ref on the training pool, KTO's KL pairs,
                                                 AutoPSV's verifier labelling the rollouts)

Validation passes are evaluation, not development, and are not counted. (World <= v6 left the prefill out, which
understated Math-Shepherd's cost against the implicit PRM's: its rollouts re-read ever longer prefixes.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.core import cache
from harness.core.prompting import build_prompt

COMPUTE_FILE = "compute.json"
FLOP_FIELDS = ("data_collection_flops", "training_flops", "reference_flops")


def n_params(model) -> int:
    """Distinct parameters (tied input/output embeddings once)."""
    seen, total = set(), 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    return total


def forward_flops(tokens: int, params: int) -> float:
    return 2.0 * params * tokens


def training_flops(tokens: int, params: int) -> float:
    return 6.0 * params * tokens


def generated_tokens(tokenizer, pool, add_eos: bool = True) -> int:
    """Tokens the generator wrote for a pool's responses (each ended with eos when it stopped by itself)."""
    texts = [r.text for p in pool.problems for r in p.responses]
    if not texts:
        return 0
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    eos = 1 if add_eos and tokenizer.eos_token_id is not None else 0
    return sum(len(x) + eos for x in ids)


def prompt_tokens(tokenizer, pool) -> int:
    """Prompt tokens the generator read to write a pool's responses: each response prefilled its problem's prompt."""
    if not pool.problems:
        return 0
    ids = tokenizer([build_prompt(tokenizer, p.problem) for p in pool.problems], add_special_tokens=False)["input_ids"]
    return sum(len(x) * len(p.responses) for x, p in zip(ids, pool.problems))


def record(*, params: int, generator_params: int, generated: int, trained: int, reference: int = 0,
           reference_params: int | None = None, prefill: int = 0, **extra: Any) -> dict[str, Any]:
    """The compute.json dictionary; `extra` (e.g. a breakdown of where generated tokens came from) is kept.
    prefill: prompt (and prefix) tokens the generator read before writing the generated ones."""
    ref_params = params if reference_params is None else reference_params
    out = {"params": int(params), "generator_params": int(generator_params), "reference_params": int(ref_params),
           "generated_tokens": int(generated), "prefill_tokens": int(prefill), "trained_tokens": int(trained),
           "reference_tokens": int(reference),
           "data_collection_flops": forward_flops(generated + prefill, generator_params),
           "training_flops": training_flops(trained, params),
           "reference_flops": forward_flops(reference, ref_params)}
    out["total_flops"] = sum(out[k] for k in FLOP_FIELDS)
    out.update(extra)
    return out


def combine(*records: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Several stages of one model's development (e.g. implicit CE, then step-level KTO): FLOPs and tokens add up."""
    out: dict[str, Any] = {"stages": list(records)}
    for k in FLOP_FIELDS + ("total_flops", "generated_tokens", "prefill_tokens", "trained_tokens",
                            "reference_tokens"):
        out[k] = sum(r.get(k, 0) for r in records)
    for k in ("params", "generator_params", "instructions"):
        if records and k in records[-1]:
            out[k] = records[-1][k]
    out.update(extra)
    return out


def write_compute(folder, rec: dict[str, Any]) -> Path:
    path = Path(folder) / COMPUTE_FILE
    cache.write_json_atomic(path, rec, indent=2)
    return path


def read_compute(folder) -> dict[str, Any] | None:
    path = Path(folder) / COMPUTE_FILE
    if not path.is_file():
        return None
    try:
        return cache.read_json(path)
    except (OSError, ValueError):
        return None


def flop_ratio(a: dict[str, Any], b: dict[str, Any], per_instruction: bool = False) -> float:
    """total FLOPs of a / total FLOPs of b (the paper reports Math-Shepherd / implicit PRM = 38.8x).

    per_instruction divides each by its number of training instructions first, for a model trained (and, for
    Math-Shepherd, MC-labelled) on only part of the pool (max_instructions).
    """
    fa, fb = a["total_flops"], b["total_flops"]
    if per_instruction:
        fa, fb = fa / max(1, a.get("instructions", 1)), fb / max(1, b.get("instructions", 1))
    return fa / fb


def ratios_to(checkpoints: list[dict[str, Any]], reference: str = "implicit_ce") -> dict[str, float]:
    """checkpoint name -> FLOPs per instruction over those of the `reference` checkpoint trained from the same base
    model on the same pool (`harness list` shows it; Math-Shepherd / implicit CE is the paper's Figure 2 ratio).

    Each entry: {"checkpoint": folder name, "compute": compute.json, "train_config": train_config.json}.
    """
    def origin(c):
        t = c.get("train_config") or {}
        return t.get("base_model"), t.get("train_pool_hash")
    refs = {origin(c): c["compute"] for c in checkpoints
            if c["checkpoint"].startswith(reference + "-") and "total_flops" in c.get("compute", {})}
    return {c["checkpoint"]: flop_ratio(c["compute"], refs[origin(c)], per_instruction=True)
            for c in checkpoints if "total_flops" in c.get("compute", {}) and origin(c) in refs}
