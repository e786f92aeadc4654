"""Step splitting of responses: the harness's one rule for where a step ends.

Steps are returned as contiguous character spans covering the whole response, so that per-step quantities computed
from token offsets always add up to the whole-response quantity (the implicit PRM's step rewards sum to its
outcome reward). The rule, first match wins:

1. "Step k:" markers (also "Step k.", "## Step k:", "**Step k**:"; the paper's pools), when there are two or more,
   or one that opens the text: a step starts at each marker's line.
2. Blank-line paragraphs, when the text has a blank line between two non-blank parts: a step starts after each run of
   blank lines.
3. Otherwise one step per non-empty line (GSM8K, Math-Shepherd and PRM800K style: single newlines, no markers).

A step's span runs up to the next step's start, so the newlines (or blank lines) after a step belong to it; the
whitespace at the very end belongs to the last step. A text with a single line is a single step.
"""

from __future__ import annotations

import re

_MARKER = re.compile(r"(?:^|\n)[ \t]*(?:#+\s*)?\**Step\s*\d+\s*\**\s*[:.]", re.IGNORECASE)
_BLANK = re.compile(r"\n[ \t]*\n")
_LINE = re.compile(r"\n(?=[^\n]*\S)")  # a newline before a non-blank line


def _after_each(pattern: re.Pattern, text: str) -> list[int]:
    """Where a step starts after each match of `pattern`, unless only whitespace follows."""
    return [m.end() for m in pattern.finditer(text) if text[m.end():].strip()]


def step_spans(text: str) -> list[tuple[int, int]]:
    """Contiguous [start, end) spans, one per step; [(0, len)] when the text has a single step."""
    if not text:
        return [(0, 0)]
    starts = [m.start() + (1 if text[m.start()] == "\n" else 0) for m in _MARKER.finditer(text)]
    # One marker opening the text is a one-step response: its answer line belongs to that step, as the last step's
    # does in a multi-step response (not a second step of its own).
    if len(starts) < 2 and not (starts and not text[:starts[0]].strip()):
        starts = _after_each(_BLANK, text)
        if not starts:  # no paragraphs: one step per non-empty line (leading blank lines join the first)
            starts = [s for s in _after_each(_LINE, text) if text[:s].strip()]
    cuts = sorted(set([0] + [s for s in starts if 0 < s < len(text)]))
    return [(a, b) for a, b in zip(cuts, cuts[1:] + [len(text)])]


def split_steps(text: str) -> list[str]:
    """The text of each step, stripped of surrounding whitespace."""
    return [text[a:b].strip() for a, b in step_spans(text)]
