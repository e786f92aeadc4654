"""The four implicit-PRM objectives against values computed by hand, and the data they are built from."""

from __future__ import annotations

import math

import pytest
import torch

from harness.core.errors import InputError
from harness.core.pool import Pool, Problem, Response
from reward_models.training import losses as L


def sig(x):
    return 1 / (1 + math.exp(-x))


def t(*xs):
    return torch.tensor(xs, dtype=torch.float64, requires_grad=True)


def test_dpo_value_and_gradient_signs():
    r_w, r_l = t(0.3), t(-0.2)
    loss = L.dpo_loss(r_w, r_l)
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-0.5)), abs=1e-12)  # -log s(0.5)
    loss.sum().backward()
    assert r_w.grad.item() == pytest.approx(-(1 - sig(0.5)), abs=1e-12)  # descent raises the chosen reward
    assert r_l.grad.item() == pytest.approx(1 - sig(0.5), abs=1e-12)     # and lowers the rejected one


def test_nca_value_and_gradient_signs():
    r_w, r_l = t(0.3), t(-0.2)
    loss = L.nca_loss(r_w, r_l)
    by_hand = -math.log(sig(0.3)) - 0.5 * math.log(sig(-0.3)) - 0.5 * math.log(sig(0.2))
    assert loss.item() == pytest.approx(by_hand, abs=1e-12)
    loss.sum().backward()
    # d/dr_w = -(1 - s(r_w)) + 0.5 s(r_w); d/dr_l = 0.5 s(r_l)
    assert r_w.grad.item() == pytest.approx(-(1 - sig(0.3)) + 0.5 * sig(0.3), abs=1e-12)
    assert r_w.grad.item() < 0 < r_l.grad.item()
    assert r_l.grad.item() == pytest.approx(0.5 * sig(-0.2), abs=1e-12)


def test_nca_differs_from_dpo_on_shifted_rewards():
    # DPO sees only the margin; NCA also pushes the absolute chosen reward up.
    a, b = L.dpo_loss(t(1.0), t(0.0)).item(), L.dpo_loss(t(3.0), t(2.0)).item()
    assert a == pytest.approx(b)
    assert L.nca_loss(t(1.0), t(0.0)).item() != pytest.approx(L.nca_loss(t(3.0), t(2.0)).item())


def test_kto_value_reference_point_and_gradients():
    r = t(0.4, -0.1)
    desirable = torch.tensor([True, False])
    mismatched = t(0.2, 0.0, 0.1)
    z0 = L.kto_reference_point(mismatched)
    assert z0.item() == pytest.approx(0.1, abs=1e-12)
    assert not z0.requires_grad  # detached, as in the KTO paper
    loss = L.kto_loss(r, desirable, z0, lambda_d=1.0, lambda_u=1.5)
    assert loss[0].item() == pytest.approx(1 - sig(0.4 - 0.1), abs=1e-12)
    assert loss[1].item() == pytest.approx(1.5 * (1 - sig(0.1 - (-0.1))), abs=1e-12)
    loss.sum().backward()
    assert r.grad[0].item() == pytest.approx(-sig(0.3) * (1 - sig(0.3)), abs=1e-12)  # desirable: pushed up
    assert r.grad[1].item() == pytest.approx(1.5 * sig(0.2) * (1 - sig(0.2)), abs=1e-12)  # undesirable: down
    assert mismatched.grad is None


def test_kto_reference_point_is_clamped_at_zero():
    assert L.kto_reference_point(t(-0.3, -0.1)).item() == 0.0
    assert L.kto_reference_point(torch.zeros(0)).item() == 0.0


def test_ce_value_weights_and_gradient_signs():
    r = t(0.5, 0.5)
    labels = torch.tensor([1.0, 0.0])
    loss = L.ce_loss(r, labels, torch.tensor([2.0, 0.5]))
    assert loss[0].item() == pytest.approx(2.0 * math.log(1 + math.exp(-0.5)), abs=1e-12)
    assert loss[1].item() == pytest.approx(0.5 * math.log(1 + math.exp(0.5)), abs=1e-12)
    loss.sum().backward()
    assert r.grad[0].item() == pytest.approx(-2.0 * (1 - sig(0.5)), abs=1e-12)
    assert r.grad[1].item() == pytest.approx(0.5 * sig(0.5), abs=1e-12)


def pool_of(*outcomes: list[bool]) -> Pool:
    return Pool([Problem(f"p{i}", f"Compute {i}", "0", [Response(f"r{j}", correct=c) for j, c in enumerate(cs)])
                 for i, cs in enumerate(outcomes)])


def test_build_pairs_all_and_one_to_one_count_dropped_instructions():
    pool = pool_of([True, True, True, False], [False, False], [True, False, False])
    # flat indices: p0 -> 0..3, p1 -> 4..5, p2 -> 6..8
    pairs, stats = L.build_pairs(pool, "all")
    assert pairs == [(0, 3), (1, 3), (2, 3), (6, 7), (6, 8)]
    assert stats == {"instructions": 3, "dropped_instructions": 1, "pairs": 5}
    pairs, stats = L.build_pairs(pool, "one_to_one")
    assert pairs == [(0, 3), (6, 7)]
    assert stats["dropped_instructions"] == 1
    with pytest.raises(InputError, match="pairing"):
        L.build_pairs(pool, "every")


def test_balanced_ce_weights():
    pool = pool_of([True, True, True, False], [True, False])
    assert L.ce_weights(pool) == [1.0] * 6
    # dataset-wise: 4 positives, 2 negatives out of 6 -> 6/8 and 6/4
    assert L.ce_weights(pool, "dataset") == pytest.approx([0.75, 0.75, 0.75, 1.5, 0.75, 1.5])
    # instruction-wise: each instruction carries 6/2 = 3, split equally between its classes
    w = L.ce_weights(pool, "instruction")
    assert w == pytest.approx([0.5, 0.5, 0.5, 1.5, 1.5, 1.5])
    assert sum(w[:4]) == pytest.approx(sum(w[4:]))
    one_class = pool_of([False, False], [True, False])
    assert L.ce_weights(one_class, "instruction") == pytest.approx([1.0, 1.0, 1.0, 1.0])


def test_ungraded_training_pool_is_refused():
    pool = pool_of([True, None])
    with pytest.raises(InputError, match="ungraded"):
        L.build_pairs(pool)
    with pytest.raises(InputError, match="correct"):
        L.ce_weights(pool)


def test_bt_loss_is_the_mean_over_correct_x_incorrect_pairs():
    r_c, r_i = t(2.0, 0.5), t(-1.0, 0.0, 1.0)
    loss = L.bt_loss(r_c, r_i)
    pairs = [(a, b) for a in (2.0, 0.5) for b in (-1.0, 0.0, 1.0)]
    assert loss.item() == pytest.approx(sum(math.log(1 + math.exp(-(a - b))) for a, b in pairs) / 6, abs=1e-12)
    loss.backward()
    # d/dr_c = -mean over its pairs of (1 - s(r_c - r_i)) / (number of correct): descent raises every correct one
    by_hand = [-sum(1 - sig(a - b) for b in (-1.0, 0.0, 1.0)) / 6 for a in (2.0, 0.5)]
    assert r_c.grad.tolist() == pytest.approx(by_hand, abs=1e-12)
    assert (r_i.grad > 0).all()


def test_build_groups_keeps_mixed_instructions_in_pool_order():
    pool = Pool([Problem("a", "?", "1", [Response("x", "1", True), Response("y", "2", False),
                                         Response("z", "1", True)]),
                 Problem("b", "?", "1", [Response("x", "1", True)]),
                 Problem("c", "?", "1", [Response("y", "2", False), Response("x", "1", True)])])
    groups, stats = L.build_groups(pool)
    assert groups == [([0, 2], [1]), ([5], [4])]
    assert stats == {"instructions": 3, "dropped_instructions": 1, "pairs": 3}
