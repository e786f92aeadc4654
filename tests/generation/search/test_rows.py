"""Forkable key/value caches (harness.generation.search.rows) on the shipped mid generator: extending rows by ragged
blocks, with holes in the cache, and forking rows between blocks equal one plain forward of each row's tokens."""

from __future__ import annotations

import pytest
from _frozen_world import frozen_world

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def world():
    return frozen_world()


def test_row_cache_blocks_holes_and_forks_equal_one_forward(world):
    """Extending rows by ragged blocks (holes in the cache), forking rows between blocks, equals one plain forward
    of each row's tokens."""
    from harness.generation.fast_decode import LlamaDecoder
    from harness.generation.search.rows import RowCache, pad_block
    model, _ = world[0]["mid"]
    dec = LlamaDecoder(model)
    g = torch.Generator().manual_seed(0)
    rows = [torch.randint(10, 90, (n,), generator=g).tolist() for n in (7, 12, 3)]
    more = [torch.randint(10, 90, (n,), generator=g).tolist() for n in (0, 5, 9, 2)]
    with torch.inference_mode():
        c = RowCache(dec, 3, capacity=8)  # small: the cache must grow
        c.extend(*pad_block(rows))
        c = c.select(torch.tensor([0, 1, 1, 2]))  # row 1 forked
        x = c.extend(*pad_block(more))
        for r, (base, extra) in enumerate(zip([rows[0], rows[1], rows[1], rows[2]], more)):
            seq = base + extra
            ref = model.model(input_ids=torch.tensor([seq])).last_hidden_state[0]
            if extra:
                assert torch.allclose(x[r, :len(extra)], ref[len(base):], atol=1e-5)
            assert torch.allclose(model.lm_head(c.last[r]), model.lm_head(ref[-1]), atol=1e-4)
