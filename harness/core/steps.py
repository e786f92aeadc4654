"""Step splitting of responses.

Steps are returned as contiguous character spans covering the whole response, so that per-step quantities computed
from token offsets always add up to the whole-response quantity (the implicit PRM's step rewards sum to its
outcome reward). "Step k:" markers (the paper's pools) are used when there are two or more, or one that opens the
text; otherwise blank-line paragraphs.
"""

from __future__ import annotations

import re

_MARKER = re.compile(r"(?:^|\n)[ \t]*(?:#+\s*)?\**Step\s*\d+\s*\**\s*[:.]", re.IGNORECASE)
_BLANK = re.compile(r"\n[ \t]*\n")


def step_spans(text: str) -> list[tuple[int, int]]:
    """Contiguous [start, end) spans, one per step; [(0, len)] when the text has a single step."""
    if not text:
        return [(0, 0)]
    starts = [m.start() + (1 if text[m.start()] == "\n" else 0) for m in _MARKER.finditer(text)]
    # One marker opening the text is a one-step response: its answer line belongs to that step, as the last step's
    # does in a multi-step response (not a second step of its own).
    if len(starts) < 2 and not (starts and not text[:starts[0]].strip()):
        # Paragraph fallback: a step starts after each run of blank lines, unless only whitespace follows.
        starts = [0] + [m.end() for m in _BLANK.finditer(text) if text[m.end():].strip()]
    cuts = sorted(set([0] + [s for s in starts if 0 < s < len(text)]))
    return [(a, b) for a, b in zip(cuts, cuts[1:] + [len(text)])]


def split_steps(text: str) -> list[str]:
    """The text of each step, stripped of surrounding whitespace."""
    return [text[a:b].strip() for a, b in step_spans(text)]
