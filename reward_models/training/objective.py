"""The objective a reward model trains under: the adapter's reward of a response and one of the losses of
reward_models.training.losses, with its own checks.

The reward is the adapter's (reward_models.implicit.PolicyRatio: beta * log pi_theta / pi_ref of the response;
reward_models.orm.ValueHead: the value head's logit). The objective checks that the loss is one the reward takes and
that the options fit the reward's kind (before anything is loaded or trained), that every response is graded, builds
what one optimizer step iterates over (pairs of responses, problems, or single responses with weights) and gives the
loss of a chunk of a batch. The training loop (reward_models.training.loop.train) only optimises it.
"""

from __future__ import annotations

from harness.core.errors import InputError
from harness.evaluation.auc import roc_auc
from reward_models.training import losses as L
from reward_models.training.value_head import step_end_positions


def check_train_config(kind: str, cfg) -> None:
    """The options of a TrainConfig that must fit together and fit the reward's kind (implicit | orm)."""
    if cfg.responses_per_instruction is not None and cfg.responses_per_instruction < 1:
        raise InputError(f"{cfg.responses_per_instruction} responses per instruction",
                         field="responses_per_instruction",
                         expected="an integer >= 1 (or none for all)")
    if not 0 < cfg.instruction_fraction <= 1:
        raise InputError(f"instruction fraction {cfg.instruction_fraction}", field="instruction_fraction",
                         expected="a number in (0, 1]")
    if cfg.head_at not in ("last", "steps") or (kind != "orm" and cfg.head_at != "last"):
        raise InputError(f"head_at '{cfg.head_at}' for a {kind} model", field="head_at",
                         expected="last or steps (steps only for a value-head ORM)")
    if cfg.loss == "bt" and cfg.head_at != "last":
        raise InputError(f"head_at '{cfg.head_at}' with the bt loss", field="head_at",
                         expected="last (a Bradley-Terry pair compares whole responses)")
    if kind != "implicit" and not cfg.train_ref:
        raise InputError("train_ref applies only to implicit PRMs", field="train_ref",
                         expected="true for an ORM (its reward is a value head, with no reference model)")


class Objective:
    """`reward` (PolicyRatio, ValueHead, ...) trained under `cfg.loss`. Built before anything else of a run, so
    that a loss or option that does not fit fails at once."""

    def __init__(self, reward, name: str, cfg):
        if cfg.loss not in reward.losses:
            raise InputError(f"unknown loss '{cfg.loss}' for {name}", field="loss",
                             expected="one of " + ", ".join(reward.losses))
        check_train_config(reward.kind, cfg)
        self.reward, self.cfg, self.kind = reward, cfg, reward.kind
        self.stats: dict = {}

    @staticmethod
    def check_pools(train_pool, val_pool) -> None:
        """Every response graded, the training pool's and the validation pool's, before any model is loaded."""
        L.ce_weights(train_pool)
        if val_pool is not None and not val_pool.is_graded():
            raise InputError("validation pool is not graded (run `grade` first)", file=val_pool.path)

    def prepare(self, run, val_pool) -> list:
        """What one optimizer step iterates over (pairs of flat response indices, problems with their correct and
        incorrect indices for bt, or single responses with weights); then the reward's own preparation (the
        reference log-probs, or a new value head)."""
        import torch  # lazy: torch costs ~2 s at import; light commands must not pay it

        cfg, pool = self.cfg, run.train_pool
        self.run = run
        self.labels = torch.tensor([bool(r.correct) for p in pool.problems for r in p.responses])
        if cfg.loss in L.PAIRWISE + L.GROUPED:
            units, self.stats = (L.build_pairs(pool, cfg.pairing) if cfg.loss in L.PAIRWISE
                                 else L.build_groups(pool))
            if not units:
                raise InputError(f"no (correct, incorrect) pair in the training pool "
                                 f"({self.stats['dropped_instructions']} instructions dropped)", file=pool.path,
                                 expected="mixed outcomes per problem")
        else:
            units = list(range(len(run.encs)))
            balance = {"ce_inst": "instruction", "ce_data": "dataset"}.get(cfg.loss)
            self.weights = torch.tensor(L.ce_weights(pool, balance))
        self.reward.prepare(run, val_pool)
        # head_at="steps": every position counts 1/(positions of its response), so each response still weighs
        # its weight
        self.positions = [step_end_positions(e) for e in run.encs] if cfg.head_at == "steps" else None
        return units

    def modules(self) -> list:
        """What the reward trains besides the model (a value head), for the optimizer and the compute count."""
        return self.reward.modules()

    def chunk_loss_of(self, batch):
        """The function of a chunk of `batch` whose value is that chunk's share of the batch's mean loss."""
        n = len(batch)
        return lambda chunk: self.loss(chunk) / n

    def loss(self, chunk):
        with self.run.amp():  # the forward only; backward runs outside autocast, as torch recommends
            return self._loss(chunk)

    def rewards(self, idx: list[int]):
        run = self.run
        batch = [run.encs[i] for i in idx]
        run.counted["trained"] += sum(len(e.ids) for e in batch)
        return self.reward.rewards(run, idx, batch,
                                   None if self.positions is None else [self.positions[i] for i in idx])

    def _loss(self, chunk):
        import torch  # lazy: torch costs ~2 s at import; light commands must not pay it

        cfg, device = self.cfg, self.run.device
        if cfg.loss in L.GROUPED:  # one problem per unit: its responses run once, every pair of it compared
            r = self.rewards([i for pos, neg in chunk for i in pos + neg])
            out, at = [], 0
            for pos, neg in chunk:
                out.append(L.bt_loss(r[at:at + len(pos)], r[at + len(pos):at + len(pos) + len(neg)]))
                at += len(pos) + len(neg)
            return torch.stack(out).sum()
        if cfg.loss in L.PAIRWISE:
            r = self.rewards([w for w, _ in chunk] + [lo for _, lo in chunk])
            r_w, r_l = r[:len(chunk)], r[len(chunk):]
            return (L.dpo_loss(r_w, r_l) if cfg.loss == "dpo" else L.nca_loss(r_w, r_l)).sum()
        r = self.rewards(chunk)
        if cfg.loss == "kto":
            z0 = self.reward.kto_reference_point(self.run, chunk)
            return L.kto_loss(r, self.labels[chunk].to(device), z0, cfg.kto_lambda_d, cfg.kto_lambda_u).sum()
        y, w = self.labels[chunk], self.weights[chunk]
        if self.positions is not None:
            reps = torch.tensor([len(self.positions[i]) for i in chunk])
            y, w = y.repeat_interleave(reps), (w / reps).repeat_interleave(reps)
        return L.ce_loss(r, y.to(device), w.to(device)).sum()

    def val_auc(self, val_pool) -> float:
        """ROC AUC of the trained reward on the validation pool's outcome labels."""
        val_labels = [bool(r.correct) for p in val_pool.problems for r in p.responses]
        return roc_auc(self.reward.val_scores(self.run, val_pool), val_labels)

    def reference_tokens(self) -> int:
        """Tokens through no-grad reference forwards that the reward made (e.g. its pass over the training pool)."""
        return self.reward.reference_tokens(self.run)
