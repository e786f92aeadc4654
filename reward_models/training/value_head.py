"""The scalar value head on a causal LM's backbone: one nn.Linear read at chosen token positions.

Shared by the ORM (read at the last token; the response's score), AutoPSV's outcome verifier (also read at every
step's end) and their training loop (reward_models.training.loop). Its weights are stored as value_head.safetensors
beside the backbone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.core import progress as progress_mod
from harness.core.errors import InputError
from reward_models.lm.loading import pad_id
from reward_models.lm.logprobs import STATS, collate, encode_pool, make_batches

HEAD_FILE = "value_head.safetensors"


def new_head(model, seed: int):
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
    torch.manual_seed(seed)
    head = torch.nn.Linear(model.config.get_text_config().hidden_size, 1)
    torch.nn.init.zeros_(head.bias)
    return head


def save_head(head, folder) -> None:
    from safetensors.torch import save_file  # lazy: safetensors is only needed to read or write weights
    save_file({k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()}, str(Path(folder) / HEAD_FILE))


def load_head(model, folder):
    from safetensors.torch import load_file  # lazy: safetensors is only needed to read or write weights
    path = Path(folder) / HEAD_FILE
    if not path.is_file():
        raise InputError("not an ORM checkpoint: value head missing", file=path)
    head = new_head(model, 0)
    try:
        head.load_state_dict(load_file(str(path)))
    except (RuntimeError, OSError) as e:
        raise InputError(f"value head does not fit the backbone: {e}", file=path) from None
    return head.to(next(model.parameters()).device).eval()


def head_values(model, head, encs, pad: int):
    """Head logits at the last token of each sequence (left padding puts every last token in the last column)."""
    device = next(model.parameters()).device
    batch = collate(encs, pad, "left")
    hidden = model.base_model(input_ids=batch["input_ids"].to(device),
                              attention_mask=batch["attention_mask"].to(device),
                              position_ids=batch["position_ids"].to(device), use_cache=False).last_hidden_state
    return head(hidden[:, -1].float()).squeeze(-1)


def step_end_positions(e) -> list[int]:
    """Token indices (into e.ids) where a verifier reads its confidence: the prompt's last token (no step written
    yet), then the last token of every step (eos belongs to the last step). A step truncated away reads the last
    token kept before it."""
    ends = np.searchsorted(e.step_of, np.arange(e.n_steps), side="right") - 1 + e.prompt_len
    return [e.prompt_len - 1] + [int(x) for x in ends]


def head_values_at(model, head, encs, pad: int, positions: list[list[int]]):
    """Head logits at the given token indices of each sequence, flat (row by row)."""
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it

    device = next(model.parameters()).device
    batch = collate(encs, pad, "left")
    hidden = model.base_model(input_ids=batch["input_ids"].to(device),
                              attention_mask=batch["attention_mask"].to(device),
                              position_ids=batch["position_ids"].to(device), use_cache=False).last_hidden_state
    width = hidden.shape[1]
    rows = [i for i, pos in enumerate(positions) for _ in pos]
    cols = [width - len(e.ids) + j for e, pos in zip(encs, positions) for j in pos]
    return head(hidden[torch.tensor(rows, device=device), torch.tensor(cols, device=device)].float()).squeeze(-1)


def orm_step_values(model, head, tokenizer, pool, *, max_len=None, batch_size=8, max_tokens=None, progress=True,
                    desc="verifier values", encs=None) -> list:
    """Head logits at the prompt's end and at every step's end: one array of n_steps + 1 values per response, flat
    in pool order. `encs`: the pool already encoded (reward_models.lm.logprobs.encode_pool), to encode it once."""
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it

    encs = encode_pool(tokenizer, pool, max_len=max_len) if encs is None else encs
    positions = [step_end_positions(e) for e in encs]
    out: list = [None] * len(encs)
    STATS["passes"] += 1
    was_training = model.training
    model.eval()
    with torch.inference_mode(), progress_mod.bar(len(encs), desc, "seq", enabled=progress, inner=True) as bar:
        for idx in make_batches([len(e.ids) for e in encs], batch_size, max_tokens):
            v = head_values_at(model, head, [encs[i] for i in idx], pad_id(tokenizer), [positions[i] for i in idx])
            v, at = v.double().cpu().numpy(), 0
            for i in idx:
                out[i] = v[at:at + len(positions[i])]
                at += len(positions[i])
            bar.update(len(idx))
    model.train(was_training)
    return out


def orm_scores(model, head, tokenizer, pool, *, max_len=None, batch_size=8, max_tokens=None, progress=True):
    """One value per response, flat in pool order."""
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it

    encs = encode_pool(tokenizer, pool, max_len=max_len)
    out = np.zeros(len(encs))
    STATS["passes"] += 1
    was_training = model.training
    model.eval()
    with torch.inference_mode(), progress_mod.bar(len(encs), "ORM scores", "seq", enabled=progress,
                                                  inner=True) as bar:
        for idx in make_batches([len(e.ids) for e in encs], batch_size, max_tokens):
            out[idx] = head_values(model, head, [encs[i] for i in idx], pad_id(tokenizer)).double().cpu().numpy()
            bar.update(len(idx))
    model.train(was_training)
    return out
