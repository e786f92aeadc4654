"""Preparing a reward model for a flow, in one place: its named models resolved, the real-base training defaults,
and training (or finding the cached checkpoint) when it learns and was given none."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from harness.core.errors import InputError
from harness.core.options import make_config
from reward_models import REWARD_MODELS
from reward_models.lm.named_bases import is_named, resolve_base

# Training options for a real (135M) base when the user sets none: the TrainConfig defaults are sized for the tiny
# arith models (lr 1e-4); the forward/backward chunk of 4 sequences keeps the 49k-token-vocabulary logits in memory.
REAL_BASE_TRAIN_DEFAULTS = {"lr": "1e-5", "batch_size": "16", "grad_accum": "4", "score_batch_size": "8",
                            "max_batch_tokens": "4096"}


def effective_rm_options(rm_name: str, given: dict) -> dict:
    """The user's options, plus the real-base defaults for options this reward model has and the user left unset."""
    names = {f.name for f in dataclasses.fields(REWARD_MODELS.get(rm_name).Config)}
    return {**{k: v for k, v in REAL_BASE_TRAIN_DEFAULTS.items() if k in names}, **given}


def load_options_file(path, rm: str) -> dict:
    """Reward-model options from a JSON object file (the keys --set takes); errors name the file, line and key."""
    path = Path(path)
    if not path.is_file():
        raise InputError("config file not found" if not path.exists() else "not a regular file", file=path,
                         field="--config", expected="a JSON file of reward-model options")
    try:
        text = path.read_text(encoding="utf-8")
        opts = json.loads(text)
    except UnicodeDecodeError as e:
        raise InputError(f"not UTF-8 text ({e.reason})", file=path) from None
    except json.JSONDecodeError as e:
        raise InputError(f"invalid JSON: {e.msg} at column {e.colno}", file=path, line=e.lineno) from None
    if not isinstance(opts, dict):
        raise InputError("not a JSON object", file=path, expected='{"option": value, ...}')
    if rm not in REWARD_MODELS:
        raise InputError(f"unknown reward model '{rm}'", field="--rm", expected="one of " + ", ".join(
            REWARD_MODELS.names()))
    cls = REWARD_MODELS.get(rm)
    for key, value in opts.items():
        line = next((i for i, ln in enumerate(text.splitlines(), 1) if f'"{key}"' in ln), None)
        if isinstance(value, (dict, list)):
            raise InputError("wrong type", file=path, line=line, field=key, expected="a number, string or boolean")
        try:
            make_config(cls.Config, {key: value if value is None or isinstance(value, str) else json.dumps(value)},
                        rm)
        except InputError as e:
            raise InputError(str(e).split(": ", 1)[-1], file=path, line=line, field=key) from None
    return {k: v if v is None or isinstance(v, str) else json.dumps(v) for k, v in opts.items()}


def resolve_named(rm, log) -> None:
    """--model smollm2 / --ref smollm2: a named base becomes its converted folder."""
    for attr in ("model", "ref"):
        if is_named(getattr(rm.config, attr, None)):
            setattr(rm.config, attr, resolve_base(getattr(rm.config, attr), log))


def fit(rm, train_pool, base_model, val_pool=None, *, log, what: str) -> Path | None:
    """Train `rm` from `base_model` on `train_pool` (or find its cached checkpoint) when it learns and was given no
    checkpoint, and return the checkpoint; an untrained one is handed the base model (loglik: its policy)."""
    if rm.trainable and getattr(rm.config, "model", None) is None:
        log(f"[train] {what}")
        ckpt = rm.fit(train_pool, base_model, val_pool)
        log(f"[train] checkpoint {ckpt}")
        return ckpt
    if not rm.trainable and base_model is not None:
        rm.fit(train_pool, base_model, val_pool)
    return None


def prepare_rm(cfg, inputs, log):
    """The reward model, trained (or loaded from the cache) when it learns and no checkpoint was given."""
    rm = cfg.reward_model()
    resolve_named(rm, log)
    if rm.trainable and getattr(rm.config, "model", None) is None and (inputs.train_pool is None
                                                                        or inputs.base_model is None):
        raise InputError(f"{cfg.rm} must be trained first", field="--train-pool/--base",
                         expected="RM-training rollouts and their base model, or --model PATH")
    fit(rm, inputs.train_pool, inputs.base_model, inputs.val_pool, log=log,
        what=f"{cfg.rm} from {inputs.base_model} on "
             f"{inputs.train_pool.n_responses if inputs.train_pool else 0} rollouts")
    return rm
