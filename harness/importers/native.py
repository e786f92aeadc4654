"""Pools already in the pool format: validated and merged (several FILEs give one pool, ids must stay unique)."""

from __future__ import annotations

from pathlib import Path

from harness.core.errors import InputError
from harness.core.pool import load_pool
from harness.importers import Imported, ImportOptions, register_importer


@register_importer("pool")
def read(paths: list[Path], options: ImportOptions) -> Imported:
    problems, first_in = [], {}
    for path in paths:
        for p in load_pool(path).problems:
            if p.id in first_in:
                raise InputError(f"duplicate id '{p.id}' (also in {first_in[p.id]})", file=path, field="id",
                                 expected="ids unique across the merged pools")
            first_in[p.id] = path
            problems.append(p)
    return Imported(problems)
