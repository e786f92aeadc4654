"""Keyed random draws (harness.generation.search.draws): uniform numbers, tokens drawn with the softmax's
frequencies, a row's draw independent of the rows sharing its batch, and the child keys of a fork."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def test_keyed_draws_follow_the_distribution_and_do_not_depend_on_the_batch():
    from harness.generation.search.draws import child_key, sample_tokens, uniforms
    keys = np.arange(20000, dtype=np.uint64) * np.uint64(7919)
    u = uniforms(keys, np.zeros(20000, dtype=np.int64))
    assert 0 < u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.01
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0]).repeat(20000, 1)
    tok = sample_tokens(logits, 0.5, keys, np.zeros(20000, dtype=np.int64))
    freq = np.bincount(tok.numpy(), minlength=4) / 20000
    assert np.allclose(freq, torch.softmax(logits[0] / 0.5, -1).numpy(), atol=0.01)
    # a row's draw is the same whatever rows share its batch
    part = sample_tokens(logits[:10], 0.5, keys[5:15], np.zeros(10, dtype=np.int64))
    assert torch.equal(part, tok[5:15])
    assert child_key(123, 2, 0) == 123 and child_key(123, 2, 1) != child_key(123, 3, 1) != 123
