"""Reward models: one adapter per kind, registered by name (`@register_rm("implicit_ce")`).

Every module here is imported lazily by the registry and must keep torch/transformers imports inside functions, so
that listing reward models stays model-free. Adding a kind (math_shepherd, hf_prm, ...) is one new module.
"""

from harness.core.registry import Registry

REWARD_MODELS = Registry("reward model", "reward_models")
register_rm = REWARD_MODELS.register


def get_rm(name: str, **options):
    """An instance of the reward model registered as `name`, configured with `options`."""
    return REWARD_MODELS.get(name)(**options)


def default_aggregation(name: str) -> tuple[str, str]:
    """The step aggregation `run` ranks by when no --aggregation is given, and where it comes from: the publisher's
    (the adapter's `publisher_aggregation`), else the harness's min (also for a name not registered)."""
    cls = REWARD_MODELS.get(name) if name in REWARD_MODELS else None
    agg = getattr(cls, "publisher_aggregation", None)
    if agg:
        return agg, f"{name}'s publisher's: {cls.aggregation_source}"
    return "min", "the harness's default"
