"""Importers: bring candidate pools made by other tools into the pool format (harness/core/pool.py).

One module per input format, each registering a function with @register_importer("name"):

    read(paths: list[Path], options: ImportOptions) -> Imported

An importer keeps the labels its source already has (`answer`, `correct`) and leaves the rest missing for the
`grade` command. It reads and validates everything before returning; the `import` command writes the pool (and any
score sets the source carries) only after that, so bad input never leaves a half-written pool behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from harness.core.pool import Problem
from harness.core.registry import Registry


@dataclass
class ImportOptions:
    reference_data: Path | None = None  # a MATH-style JSONL to join problems with (ids, references)
    generator: str | None = None        # overrides the generator name an importer infers


@dataclass
class ImportedScores:
    """Per-response scores that came with the source (e.g. a reward model's), one list of step scores each."""
    rm: str
    step_scores: list[list[list[float]]]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Imported:
    problems: list[Problem]
    scores: list[ImportedScores] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the user should know (e.g. how problems were joined)


Importer = Callable[[list[Path], ImportOptions], Imported]

IMPORTERS: Registry[Importer] = Registry("import format", "harness.importers")
register_importer = IMPORTERS.register
