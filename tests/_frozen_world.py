"""The shipped arith world's generators and test problems (weak, mid, strong; the same files on every clone), for
the search tests of harness/generation/search and harness/flow/search, and an implicit PRM scored without training."""

from __future__ import annotations


def frozen_world():
    """(generators {name: (model, tokenizer)}, the test-weak pool, {name: generator folder})."""
    from harness.core.pool import load_pool
    from tasks.arith import frozen
    from tasks.arith.world_sampling import load_generator
    gens = {g: load_generator(frozen.generator_path(g)) for g in ("weak", "mid", "strong")}
    pool = load_pool(frozen.pool_path("test-weak"))
    return gens, pool, {g: frozen.generator_path(g) for g in gens}


def untrained_implicit(world, **options):
    """An implicit PRM scored without training: policy = strong generator, reference = mid (same tokenizer)."""
    from reward_models import get_rm
    _, _, paths = world
    return get_rm("implicit_ce", model=str(paths["strong"]), ref=str(paths["mid"]), progress=False, **options)
