"""The ImplicitPRM authors' best-of-N scoring of an implicit PRM (`steps=publisher` of the released presets).

Follows PRIME-RL/ImplicitPRM eval/prm_eval_utils.py (`get_dataloader`, `implicit_prm_data_collator`, `get_logps`,
`get_reward`), which eval/bon_eval.py runs:
  * steps: `re.split('Step \\d+:', response)`, each piece stripped, "Step" inside it written "step", empty pieces
    dropped, and each re-prefixed "Step k: " (a response without "Step k:" markers is one step);
  * one sequence per response: the chat template of [user: problem, assistant: steps joined by "\\n\\n"];
  * the end of step t: the chat template of the first t steps as text, stripped; for t < K a trailing Llama-3
    "<|eot_id|>" (or an empty assistant header) removed, and "\\n\\n" appended for 0 < t < K; tokenized on its own;
    its length minus 2 is the index (in the shifted log-prob row) of the last token of that prefix;
  * one forward per whole response (right padding, attention mask = ids != pad id, pad falling back to eos as
    their `get_tokenizer` does), log pi - log pi_ref per token, counted from token index end_0 on (their label_mask),
    times the coefficient, cumulated; q_t read at the end of step t; step reward q_t - q_{t-1} ("single") or q_t.
The reference reads the policy's token ids (their code subtracts the two rows position by position, which is only
meaningful when both tokenizers give the same ids; the presets' references are the policies' bases).
"""

from __future__ import annotations

import re

from harness.core.errors import InputError

_LLAMA3_ASSISTANT = "<|start_header_id|>assistant<|end_header_id|>"
_LLAMA3_EOT = "<|eot_id|>"


def authors_steps(response: str) -> list[str]:
    """prm_eval_utils.get_dataloader's steps of a response."""
    steps = [s.strip().replace("Step", "step") for s in re.split(r"Step \d+:", response) if s.strip() != ""]
    return [f"Step {k + 1}: " + s for k, s in enumerate(steps) if s.strip() != ""]


def _template(tok, problem: str, steps: list[str], tokenize: bool):
    conv = [{"role": "user", "content": problem}, {"role": "assistant", "content": "\n\n".join(steps)}]
    if tokenize:
        return list(tok.apply_chat_template(conv, tokenize=True, add_generation_prompt=False, return_dict=False))
    return tok.apply_chat_template(conv, tokenize=False, add_generation_prompt=False)


def encode(tok, problem: str, steps: list[str]) -> tuple[list[int], list[int]]:
    """(token ids of the whole response, [end_0, end_1, ..., end_K]) as implicit_prm_data_collator builds them."""
    if not getattr(tok, "chat_template", None):
        raise InputError("steps=publisher needs the model's chat template (the authors' layout is a chat)",
                         field="steps", expected="a tokenizer with a chat_template, or steps=harness")
    ids = _template(tok, problem, steps, tokenize=True)
    ends = []
    for t in range(len(steps) + 1):
        conv = _template(tok, problem, steps[:t], tokenize=False).strip()
        if t != len(steps) and conv.endswith(_LLAMA3_ASSISTANT):
            conv = conv[:-len(_LLAMA3_ASSISTANT)]
        if t != len(steps) and conv.endswith(_LLAMA3_EOT):
            conv = conv[:-len(_LLAMA3_EOT)]
        if t != 0 and t != len(steps):
            conv += "\n\n"
        ends.append(len(tok.encode(conv, add_special_tokens=False)) - 2)
    return ids, ends


def pad_token(tok) -> int:
    """Their get_tokenizer: pad is the tokenizer's pad token, else eos. Tokens equal to it are masked out."""
    return int(tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id)


def shifted_logps(model, seqs: list[list[int]], pad: int, batch_size: int = 8) -> list:
    """Per sequence, log pi(token j+1 | tokens <= j) for j < len - 1 (their get_logps) as a CPU tensor in the model's
    dtype (their log-softmax runs in it: bf16 under their deepspeed engine); right-padded batches of similar
    lengths, attention mask ids != pad, default position ids (as their forward)."""
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
    device = next(model.parameters()).device
    out: list = [None] * len(seqs)
    order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
    with torch.inference_mode():
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            width = max(len(seqs[i]) for i in idx)
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            for r, i in enumerate(idx):
                ids[r, :len(seqs[i])] = torch.tensor(seqs[i])
            ids = ids.to(device)
            logits = model(input_ids=ids, attention_mask=(ids != pad).long()).logits[:, :-1]
            lp = torch.gather(logits.log_softmax(-1), 2, ids[:, 1:, None]).squeeze(2).cpu()
            for r, i in enumerate(idx):
                out[i] = lp[r, :len(seqs[i]) - 1]
    return out


def step_rewards(policy, ref, ends: list[int], coef: float, reward: str = "single") -> list[float]:
    """get_reward on one response: coef * cumulative log-ratio (from token end_0 on), read at each step's end, in
    the dtype of the log-probs (theirs)."""
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
    raw = policy - ref if ref is not None else policy.clone()
    mask = torch.zeros_like(raw)
    mask[max(ends[0] - 1, 0):] = 1   # label_mask[:, 1:]: token j+1 counts iff j + 1 >= end_0
    q = (coef * (raw * mask)).cumsum(-1)[torch.tensor(ends[1:], dtype=torch.long)]
    if reward != "accumulative":
        q = q - torch.cat([torch.zeros(1, dtype=q.dtype), q[:-1]])
    return q.double().tolist()
