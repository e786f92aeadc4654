"""transformers API names that changed between the releases the package admits, in one place.

transformers 5.x renamed the key/value cache argument and output field `past_key_values` to `cache` and warns on
every forward that uses the old name (removed in 5.40); 4.x knows only the old name.
"""

from __future__ import annotations

import inspect
from functools import lru_cache


@lru_cache(maxsize=None)
def _forward_takes_cache(cls) -> bool:
    return "cache" in inspect.signature(cls.forward).parameters


def cache_kwargs(model, cache) -> dict:
    """The forward keyword that passes a key/value cache to `model`."""
    return {"cache" if _forward_takes_cache(type(model)) else "past_key_values": cache}


def output_cache(out):
    """The key/value cache a forward returned (use_cache=True)."""
    cache = getattr(out, "cache", None) if "cache" in getattr(out, "keys", lambda: ())() else None
    return cache if cache is not None else out.past_key_values
