"""The implicit-PRM objectives of Yuan et al. (2024), written out exactly.

Every loss takes r = beta * log pi_theta(y|x) / pi_ref(y|x) of whole responses (already scaled by beta) and returns
one loss per example (pair or response); the trainer takes the (weighted) mean.

    DPO  (pairs):      -log s(r_w - r_l)
    NCA  (pairs):      -log s(r_w) - 1/2 log s(-r_w) - 1/2 log s(-r_l)
    KTO  (responses):  desirable   lambda_D * (1 - s(r - z0))
                       undesirable lambda_U * (1 - s(z0 - r))
                       z0 = max(0, mean r on mismatched (x, y') pairs), detached (the KTO paper's KL estimate)
    CE   (responses):  -[l log s(r) + (1 - l) log s(-r)], optionally class-balanced per instruction or per dataset
    BT   (problems):   mean over the problem's correct x incorrect pairs of -log s(r_c - r_i), for a value head
                       (orm_bt): every response of a problem runs once and meets every response of the other class

(s = sigmoid.) Pair building and balancing weights work on a graded pool whose problems are the instructions.
"""

from __future__ import annotations

from harness.core.errors import InputError

PAIRWISE = ("dpo", "nca")
POINTWISE = ("kto", "ce", "ce_inst", "ce_data")
LOSSES = PAIRWISE + POINTWISE   # the implicit PRM's
GROUPED = ("bt",)               # one unit per problem; a value head's (orm_bt), not the implicit PRM's


def dpo_loss(r_chosen, r_rejected):
    import torch.nn.functional as F  # lazy: torch costs ~2 s at import; light commands must not pay it
    return -F.logsigmoid(r_chosen - r_rejected)


def nca_loss(r_chosen, r_rejected):
    import torch.nn.functional as F  # lazy: torch costs ~2 s at import; light commands must not pay it
    return -F.logsigmoid(r_chosen) - 0.5 * F.logsigmoid(-r_chosen) - 0.5 * F.logsigmoid(-r_rejected)


def bt_loss(r_correct, r_incorrect):
    """Bradley-Terry over one problem: the mean of -log s(r_c - r_i) over every correct x incorrect pair."""
    import torch.nn.functional as F  # lazy: torch costs ~2 s at import; light commands must not pay it
    return -F.logsigmoid(r_correct[:, None] - r_incorrect[None, :]).mean()


def kto_reference_point(r_mismatched):
    """z0: the batch estimate of beta * KL(pi_theta || pi_ref), clamped at 0 and carrying no gradient."""
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
    if r_mismatched.numel() == 0:
        return torch.zeros((), dtype=r_mismatched.dtype, device=r_mismatched.device)
    return r_mismatched.detach().mean().clamp(min=0)


def kto_loss(r, desirable, z0, lambda_d: float = 1.0, lambda_u: float = 1.0):
    import torch  # lazy: torch costs ~2 s at import; light commands must not pay it
    z0 = torch.as_tensor(z0, dtype=r.dtype, device=r.device).detach()
    return torch.where(desirable.bool(), lambda_d * (1 - torch.sigmoid(r - z0)),
                       lambda_u * (1 - torch.sigmoid(z0 - r)))


def ce_loss(r, labels, weights=None):
    import torch.nn.functional as F  # lazy: torch costs ~2 s at import; light commands must not pay it
    labels = labels.to(r.dtype)
    loss = -(labels * F.logsigmoid(r) + (1 - labels) * F.logsigmoid(-r))
    return loss if weights is None else loss * weights.to(r.dtype)


# --- data -----------------------------------------------------------------------------------------------------------

def _labels(pool) -> list[list[bool]]:
    out = []
    for p in pool.problems:
        for j, r in enumerate(p.responses):
            if r.correct is None:
                raise InputError("training pool has an ungraded response (run `grade` first)",
                                 file=pool.path, field=f"problem {p.id} responses[{j}].correct", expected="true/false")
        out.append([bool(r.correct) for r in p.responses])
    return out


def build_pairs(pool, mode: str = "all") -> tuple[list[tuple[int, int]], dict[str, int]]:
    """(chosen, rejected) pairs of flat response indices (pool order) and counts.

    mode "all": every correct x incorrect pair of an instruction; "one_to_one": the k-th correct with the k-th
    incorrect. Instructions whose responses are all correct or all incorrect give no pair and are counted as dropped.
    """
    if mode not in ("all", "one_to_one"):
        raise InputError(f"unknown pairing '{mode}'", field="pairing", expected="all or one_to_one")
    pairs, dropped, at = [], 0, 0
    for labels in _labels(pool):
        pos = [at + j for j, c in enumerate(labels) if c]
        neg = [at + j for j, c in enumerate(labels) if not c]
        at += len(labels)
        if not pos or not neg:
            dropped += 1
            continue
        pairs += [(w, lo) for w in pos for lo in neg] if mode == "all" else list(zip(pos, neg))
    return pairs, {"instructions": len(pool.problems), "dropped_instructions": dropped, "pairs": len(pairs)}


def build_groups(pool) -> tuple[list[tuple[list[int], list[int]]], dict[str, int]]:
    """Per instruction with both outcomes: (correct, incorrect) flat response indices (pool order), and counts;
    instructions whose responses are all correct or all incorrect are dropped, as by build_pairs."""
    groups, at = [], 0
    for labels in _labels(pool):
        pos = [at + j for j, c in enumerate(labels) if c]
        neg = [at + j for j, c in enumerate(labels) if not c]
        at += len(labels)
        if pos and neg:
            groups.append((pos, neg))
    return groups, {"instructions": len(pool.problems), "dropped_instructions": len(pool.problems) - len(groups),
                    "pairs": sum(len(p) * len(n) for p, n in groups)}


def ce_weights(pool, balance: str | None = None) -> list[float]:
    """Per-response CE weights in pool order, with mean 1 over the dataset.

    balance None: all 1. "instruction": within each instruction positives and negatives carry equal total weight
    (an instruction with one class only gives it all), and every instruction carries the same total. "dataset": one
    global weight per class so that both classes carry equal total weight.
    """
    labels = _labels(pool)
    flat = [c for ls in labels for c in ls]
    n = len(flat)
    if balance is None:
        return [1.0] * n
    if balance == "dataset":
        n_pos = sum(flat)
        n_neg = n - n_pos
        return [(n / (2 * n_pos) if c else n / (2 * n_neg)) if n_pos and n_neg else 1.0 for c in flat]
    if balance == "instruction":
        out = []
        per_instruction = n / len(labels)  # so that the weights average to 1
        for ls in labels:
            n_pos = sum(ls)
            n_neg = len(ls) - n_pos
            for c in ls:
                if n_pos and n_neg:
                    out.append(per_instruction * 0.5 / (n_pos if c else n_neg))
                else:
                    out.append(per_instruction / len(ls))
        return out
    raise InputError(f"unknown balancing '{balance}'", field="balance", expected="instruction or dataset")
