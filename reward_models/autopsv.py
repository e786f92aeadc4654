"""`autopsv`: AutoPSV (Lu et al., 2024, "AutoPSV: Automated Process-Supervised Verifier", arXiv:2405.16802), the
paper's second reimplemented baseline: step labels read off an outcome verifier's own confidence, no rollouts.

fit(train_pool, base_model, val_pool):
  1. Outcome-supervised verifier (OSV). The ORM's training (reward_models.training.loop, kind "orm") with
     head_at="steps": the value head is read at the prompt's last token and at the last token of every step, and every
     position is
     trained toward the response's outcome label, so sigmoid(head) at a prefix estimates P(correct | prefix). AutoPSV
     trains this with a squared error; we keep the ORM's cross-entropy. Both are proper scoring rules with the same
     minimiser, P(correct | prefix), which is all stage 2 reads. Cached as an ordinary ORM checkpoint
     (`autopsv_osv-<key>`; `--rm orm --set head_at=steps --model PATH` scores with it, one value per step).
  2. Labels, from one OSV pass over the RM-training rollouts (cached under <cache>/autopsv_confidences/). With
     c_0 the confidence before any step and c_t the confidence after step t, the relative confidence change is

         delta_t = (c_t - c_{t-1}) / c_{t-1}                       (AutoPSV, section 3)

     and step t is labelled '-' when delta_t < threshold (theta = -0.5) or c_{t-1} < floor (1e-5: no confidence left
     to lose); once a step is '-', every later step of that response is '-' too. theta = -0.5, the floor and the
     carry-forward are those of the authors' release (github.com/rookie-joe/AutoPSV, data_annotation.py, which
     compares the verifier's value at a step's first and last token; we compare the values after consecutive steps,
     the paper's formula). A response whose confidence never falls by half is all '+', right or wrong.
  3. Process-supervised verifier: continual training of the OSV on those hard labels, as the paper does (section
     4.1, "continual training on the OSV with process labels") and the authors' code (train.py builds the verifier
     from the OSV's checkpoint when it is given one, build_verifier_from_osv): the OSV's trained backbone (not the
     base model) is fine-tuned with math_shepherd's step-tag PRM training (reward_models.training.step_tags), so the
     step tag reads what the OSV learned. AutoPSV's own PSV keeps the OSV's value head and regresses it on the
     labels; the step-tag head here is the one this harness's Math-Shepherd row uses, read through the OSV's
     backbone and the base model's LM head (the OSV's training leaves the LM head as it was, save for tied
     embeddings).
Scoring is `hf_prm` on the stage-3 checkpoint: P(good)/(P(good)+P(bad)) at each step tag; aggregate with min.
Development compute: the rollouts (as for every trained reward model), the OSV's training, its labelling pass (a
no-grad forward over the rollouts, counted like a reference pass) and the PSV's training; no extra sampling.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from harness.core import cache, jobs
from harness.core.errors import InputError
from harness.core.fingerprint import fingerprint
from reward_models import register_rm
from reward_models.hf_prm import HFPRM
from reward_models.lm.loading import load_causal_lm, load_tokenizer
from reward_models.lm.logprobs import encode_pool, prompt_format_id, regroup
from reward_models.lm.tagged import TagFormat, encode_pool_tagged, pick_step_tag, resolve_format
from reward_models.math_shepherd import label_quality
from reward_models.orm import ValueHead
from reward_models.training import flops as compute
from reward_models.training import step_tags as prm_training
from reward_models.training.loop import TrainConfig, train
from reward_models.training.step_tags import TRAIN_FIELDS, StepTagOptions
from reward_models.training.value_head import load_head, orm_step_values

CONFIDENCE_DIR = "autopsv_confidences"


def step_labels(confidences: Sequence[float], threshold: float = -0.5, floor: float = 1e-5) -> list[bool]:
    """AutoPSV's labels of one response from [c_0, c_1, ..., c_m]: m booleans, True for '+'."""
    out, wrong = [], False
    for prev, cur in zip(confidences[:-1], confidences[1:]):
        wrong = wrong or prev <= 0 or prev < floor or (cur - prev) / prev < threshold
        out.append(not wrong)
    return out


@dataclass
class AutoPSVConfig(StepTagOptions):   # stage 3: the step-tag PRM, math_shepherd's training and defaults
    # stage 1: the outcome-supervised verifier (the ORM's training, value head read at every step's end)
    osv_lr: float = field(default=3e-4, metadata={
        "help": "stage 1's peak learning rate: the ORM's tuned rate on the arith world "
                "(results/tuning/arith-default-orm)"})
    osv_epochs: int = field(default=1, metadata={"help": "stage 1's passes over the training rollouts"})
    osv_batch_size: int = field(default=16, metadata={"help": "stage 1's responses per optimizer step"})
    # stage 2: the labels
    threshold: float = field(default=-0.5, metadata={
        "help": "a relative confidence change below this marks the step (and the rest) '-'"})
    floor: float = field(default=1e-5, metadata={
        "help": "a confidence below this before a step marks it '-' (no ratio to take)"})


@register_rm("autopsv")
class AutoPSV(HFPRM):
    name = "autopsv"
    trainable = True
    paper_row = 10
    paper_note = ("step labels from an outcome verifier's relative confidence change (theta = -0.5); no rollouts "
                  "beyond the RM-training ones")
    Config = AutoPSVConfig

    @classmethod
    def check_options(cls, c, given):
        super().check_options(c, given)
        if not c.threshold > -1:
            raise InputError(f"threshold {c.threshold}", field="threshold",
                             expected="a number above -1 (a confidence cannot fall by more than all of it)")
        if c.floor < 0:
            raise InputError(f"floor {c.floor}", field="floor", expected="a number >= 0")

    def tag_format(self) -> TagFormat:
        c = self.config
        return resolve_format(self._model(), c.step_tag, c.good, c.bad, None)

    def osv_config(self):
        c = self.config
        return TrainConfig(loss="ce", lr=c.osv_lr, epochs=c.osv_epochs, batch_size=c.osv_batch_size,
                           grad_accum=c.grad_accum, warmup_ratio=c.warmup_ratio, weight_decay=c.weight_decay,
                           grad_clip=c.grad_clip, seed=c.seed, dtype=c.dtype, head_at="steps")

    def fit(self, train_pool, base_model: str, val_pool=None) -> Path:
        ckpt = train_autopsv(self, train_pool, base_model, val_pool)
        self.config.model = str(ckpt)
        return ckpt


def osv_confidences(osv: Path, pool, c: AutoPSVConfig) -> dict:
    """{"values": per problem, per response, the OSV logits [v_0, ..., v_m]; "tokens": tokens read}, cached by the
    OSV's fingerprint and the pool's content."""
    key = cache.stable_hash({"osv": fingerprint(osv), "pool": pool.content_hash(), "dtype": c.dtype,
                             "positions": "prompt end, then every step's last token"})
    path = cache.root() / CONFIDENCE_DIR / f"{key}.json"

    def make() -> dict:
        model, tok = load_causal_lm(osv, dtype=c.dtype, device=c.device)
        head = load_head(model, osv)
        encs = encode_pool(tok, pool)
        values = orm_step_values(model, head, tok, pool, batch_size=c.score_batch_size, max_tokens=c.max_batch_tokens,
                                 progress=c.progress, desc="autopsv confidences", encs=encs)
        tokens = sum(len(e.ids) for e in encs)
        found = {"key": key, "osv": str(osv), "values": regroup([[float(x) for x in v] for v in values], pool),
                 "tokens": tokens}
        cache.write_json_checked(path, found)
        return found
    # keyed by the pool's content: a stored entry fits it
    return jobs.once(path, lambda: cache.read_json_checked(path), make)


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def train_autopsv(rm: AutoPSV, train_pool, base_model, val_pool=None) -> Path:
    """Stages 1-3 (each cached); the stage-3 checkpoint folder."""
    c = rm.config
    if val_pool is not None and not val_pool.is_graded():
        raise InputError("validation pool is not graded (run `grade` first)", file=val_pool.path)
    osv = train(ValueHead(), "autopsv_osv", base_model, train_pool, rm.osv_config(), val_pool, device=c.device,
                score_batch_size=c.score_batch_size, progress=c.progress)
    conf = osv_confidences(osv, train_pool, c)
    hard = [[step_labels([sigmoid(v) for v in resp], c.threshold, c.floor) for resp in prob]
            for prob in conf["values"]]
    tok = load_tokenizer(base_model)
    fmt = TagFormat(c.step_tag or pick_step_tag(tok), c.good, c.bad, "prompt")
    train_cfg = {f: getattr(c, f) for f in TRAIN_FIELDS} | {"step_tag": fmt.step_tag}
    key = cache.stable_hash({"kind": "autopsv", "train": train_cfg, "confidences": conf["key"],
                             "labels": {"threshold": c.threshold, "floor": c.floor}, "base": fingerprint(base_model),
                             "init": {"from": "osv", "osv": fingerprint(osv)}, "prompt_format": prompt_format_id()})
    out = cache.root() / "checkpoints" / f"{rm.name}-{key}"
    if cache.check_dir(out, "removing it and training again"):  # a damaged checkpoint is never used
        return out

    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it

    model, tok = load_causal_lm(osv, dtype=c.dtype, device=c.device)  # continual training of the OSV
    params = compute.n_params(model)
    encs = encode_pool_tagged(tok, train_pool, fmt)
    targets = [torch.tensor([float(v) for v in steps]) for prob in hard for steps in prob]
    metrics, trained_tokens = prm_training.fit_tagged(c, model, tok, encs, targets, rm.name)
    metrics |= {"instructions": len(train_pool.problems), "labels": label_quality(train_pool, hard),
                "osv_val_auc": cache.read_json(osv / "metrics.json").get("val_auc")}
    if val_pool is not None:
        metrics["val_auc"] = prm_training.val_auc(model, tok, val_pool, fmt, c)
    osv_comp = compute.read_compute(osv)
    label_comp = compute.record(params=osv_comp["params"], generator_params=osv_comp["generator_params"],
                                generated=0, trained=0, reference=conf["tokens"], kind="autopsv_labels",
                                instructions=len(train_pool.problems))
    psv_comp = compute.record(params=params, generator_params=params, generated=0, trained=trained_tokens,
                              kind="autopsv_psv", instructions=len(train_pool.problems))
    comp = compute.combine(osv_comp, label_comp, psv_comp, kind="autopsv")
    record = {"kind": "autopsv", "name": rm.name, "config": dataclasses.asdict(c), "format": fmt.as_dict(),
              "base_model": str(base_model), "initialised_from": str(osv), "key": key, "osv": str(osv),
              "confidences": conf["key"],
              "train_pool_hash": train_pool.content_hash(), "train_grades_hash": train_pool.grades_hash()}
    prm_training.save_tagged(out, model, tok, fmt, record, metrics, comp)
    return out
