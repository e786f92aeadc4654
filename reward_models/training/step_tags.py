"""Fine-tuning a causal LM into a step-tag PRM (the `hf_prm` format) from per-step labels, whatever made them.

Math-Shepherd's labels come from Monte-Carlo rollouts, AutoPSV's from an outcome verifier's own confidence; both
train the same way here, so the two baselines differ only in their labels: cross-entropy over the two label tokens'
logits at the step tag after every step, against the targets (hard 0/1 or soft), averaged over the tags of a batch,
as Math-Shepherd trains its released PRM. AdamW, warm-up then cosine decay and clipping are
reward_models.training.loop's. The checkpoint is an ordinary causal LM folder with prm_config.json, written whole or
not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.core import cache
from harness.evaluation.auc import roc_auc
from reward_models.lm.loading import pad_id, save_model
from reward_models.lm.tagged import encode_pool_tagged, label_token_ids, step_good_probs, tag_logits, write_format
from reward_models.training import flops as compute
from reward_models.training.loop import fit_epochs, loop_option


@dataclass
class StepTagOptions:
    """How a step-tag PRM is fine-tuned and then scored (math_shepherd's and autopsv's last stage)."""
    lr: float = loop_option("lr", "peak learning rate of the step-tag fine-tuning")
    epochs: int = loop_option("epochs", "passes over the labelled responses")
    batch_size: int = loop_option("batch_size", "responses per optimizer step (every step tag of each)")
    grad_accum: int = loop_option("grad_accum")
    warmup_ratio: float = loop_option("warmup_ratio")
    weight_decay: float = loop_option("weight_decay")
    grad_clip: float = loop_option("grad_clip")
    seed: int = loop_option("seed", "seed of the fine-tuning (torch, batch order)")
    dtype: str = field(default="float32", metadata={
        "help": "torch dtype of the model (float32, bfloat16) in every stage: labelling, fine-tuning, scoring"})
    step_tag: str | None = field(default=None, metadata={
        "help": "the tag after every step; default: \"ки\" if one token of the tokenizer, else \"@\" (arith)"})
    good: str = field(default="+", metadata={"help": "the label token a good step is trained toward at its tag"})
    bad: str = field(default="-", metadata={"help": "the label token a bad step is trained toward at its tag"})
    model: str | None = field(default=None, metadata={
        "help": "a trained checkpoint (set by fit); scoring is hf_prm on it"})
    device: str = field(default="cpu", metadata={"help": "torch device of training and scoring (cpu, cuda, ...)"})
    score_batch_size: int = field(default=32, metadata={"help": "responses per forward pass when scoring"})
    max_batch_tokens: int | None = field(default=None, metadata={
        "help": "at most this many padded tokens per scoring batch (memory); default: no limit"})
    progress: bool = field(default=True, metadata={"help": "show progress bars"})


# the options that decide the trained weights (the checkpoint key's part)
TRAIN_FIELDS = ("lr", "epochs", "batch_size", "grad_accum", "warmup_ratio", "weight_decay", "grad_clip", "seed",
                "dtype", "step_tag", "good", "bad")


def fit_tagged(c, model, tok, encs, targets, name: str) -> tuple[dict, int]:
    """Train `model` in place on tagged encodings `encs` with one target per tag; (metrics, trained tokens).

    `c` carries the training options (lr, epochs, batch_size, grad_accum, warmup_ratio, weight_decay, grad_clip,
    seed) and `progress`."""
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it

    for e, t in zip(encs, targets):
        assert len(e.tag_pos) == len(t), "one label per step tag"
    label_ids = label_token_ids(tok, c.good, c.bad)
    torch.manual_seed(c.seed)
    trained_tokens = 0
    pad = pad_id(tok)

    def chunk_loss_of(batch):  # cross-entropy of '+'/'-' at each tag, the mean over the batch's tags
        n_tags = sum(len(targets[i]) for i in batch)

        def chunk_loss(chunk):
            nonlocal trained_tokens
            logp = torch.log_softmax(tag_logits(model, [encs[i] for i in chunk], label_ids, pad), -1)
            t = torch.cat([targets[i] for i in chunk]).to(logp.device)
            trained_tokens += sum(len(encs[i].ids) for i in chunk)
            return -(t * logp[:, 0] + (1 - t) * logp[:, 1]).sum() / n_tags
        return chunk_loss

    fitted = fit_epochs(model, list(model.parameters()), list(range(len(encs))), schedule=c, epochs=c.epochs,
                        batch_size=c.batch_size, seed=c.seed, grad_accum=c.grad_accum, grad_clip=c.grad_clip,
                        weight_decay=c.weight_decay, chunk_loss_of=chunk_loss_of, name=name, progress=c.progress)
    return {**fitted, "train_responses": len(encs), "train_tags": sum(map(len, targets))}, trained_tokens


def val_auc(model, tok, val_pool, fmt, c) -> float | None:
    """ROC AUC of the min step score over a graded validation pool (evaluation: not counted as development)."""
    probs = step_good_probs(model, tok, encode_pool_tagged(tok, val_pool, fmt), fmt, batch_size=c.score_batch_size,
                            progress=c.progress, desc="validation")
    return roc_auc([min(p) for p in probs], [bool(r.correct) for p in val_pool.problems for r in p.responses])


def save_tagged(out, model, tok, fmt, record: dict, metrics: dict, comp: dict) -> None:
    """The checkpoint folder `out`, renamed into place complete (its manifest last)."""
    with cache.atomic_dir(out) as tmp:
        save_model(model, tok, tmp)
        write_format(tmp, fmt)
        cache.write_json_atomic(tmp / "train_config.json", record, indent=2)
        cache.write_json_atomic(tmp / "metrics.json", metrics, indent=2)
        compute.write_compute(tmp, comp)
        cache.write_manifest(tmp)  # last: the hashes of everything above, checked when the checkpoint is reused
