"""harness.core.steps: the one splitting rule (markers, else blank-line paragraphs, else one step per line)."""

from __future__ import annotations

import json
import lzma
import re
from pathlib import Path

import pytest

from harness.core.pool import parse_record
from harness.core.steps import split_steps, step_spans

ARITH_POOLS = Path(__file__).resolve().parents[2] / "tasks" / "arith" / "data" / "v7" / "pools"

# The splitter before the one-step-per-line rule, copied verbatim: the arith world's frozen pools must cut the same.
_OLD_MARKER = re.compile(r"(?:^|\n)[ \t]*(?:#+\s*)?\**Step\s*\d+\s*\**\s*[:.]", re.IGNORECASE)
_OLD_BLANK = re.compile(r"\n[ \t]*\n")


def old_step_spans(text: str) -> list[tuple[int, int]]:
    if not text:
        return [(0, 0)]
    starts = [m.start() + (1 if text[m.start()] == "\n" else 0) for m in _OLD_MARKER.finditer(text)]
    if len(starts) < 2 and not (starts and not text[:starts[0]].strip()):
        starts = [0] + [m.end() for m in _OLD_BLANK.finditer(text) if text[m.end():].strip()]
    cuts = sorted(set([0] + [s for s in starts if 0 < s < len(text)]))
    return [(a, b) for a, b in zip(cuts, cuts[1:] + [len(text)])]


def covers(text: str, spans) -> bool:
    return (spans[0][0] == 0 and spans[-1][1] == len(text) and all(b == c for (_, b), (c, _) in zip(spans, spans[1:]))
            and "".join(text[a:b] for a, b in spans) == text)


@pytest.mark.parametrize("text, steps", [
    # 3. no markers, no blank lines: one step per non-empty line
    ("Janet has 3 eggs.\nShe eats 1, so 3 - 1 = 2.\nThe answer is 2", ["Janet has 3 eggs.", "She eats 1, so 3 - 1 = 2.",
                                                                        "The answer is 2"]),
    ("\n  a = 1\nb = 2\n", ["a = 1", "b = 2"]),              # leading/trailing newlines join the first/last step
    ("a\r\nb", ["a", "b"]),
    ("a = 1\n \nb = 2\nc = 3", ["a = 1", "b = 2\nc = 3"]),   # a whitespace-only line is a blank line: paragraphs
    ("one line only", ["one line only"]),
    # 2. blank-line paragraphs win over single newlines
    ("First part\nstill first\n\nSecond part\n\nThe answer is 4", ["First part\nstill first", "Second part",
                                                                    "The answer is 4"]),
    # 1. markers win over both
    ("Step 1: a = 1\nStep 2: b = 2\nThe answer is 2", ["Step 1: a = 1", "Step 2: b = 2\nThe answer is 2"]),
    ("Step 1: a = 1\nThe answer is 1", ["Step 1: a = 1\nThe answer is 1"]),  # one opening marker: one step
    ("Let me see.\nStep 1: a = 1\nThe answer is 1", ["Let me see.", "Step 1: a = 1", "The answer is 1"]),
])
def test_the_rule(text, steps):
    assert split_steps(text) == steps
    assert covers(text, step_spans(text))


def test_a_line_step_ends_with_its_newline():
    """The newline after a line belongs to that line's step, as the blank lines after a paragraph do (a token's
    offsets never straddle two steps' spans, and the next step starts with its own first character)."""
    text = "x = 1\n  y = 2\nz"
    assert step_spans(text) == [(0, 6), (6, 14), (14, 15)]
    assert text[6:14] == "  y = 2\n"


def test_shipped_arith_pools_cut_as_before():
    """Every response of the frozen arith pools ("Step k: ...\n\n...") gets exactly the spans the splitter gave before
    the one-step-per-line rule (the shipped results were computed with them)."""
    files = sorted(ARITH_POOLS.glob("*.jsonl.xz"))
    assert len(files) == 5
    n = 0
    for f in files:
        for line in lzma.decompress(f.read_bytes()).decode("utf-8").splitlines():
            for r in parse_record(json.loads(line)).responses:
                assert step_spans(r.text) == old_step_spans(r.text), (f.name, r.text)
                n += 1
    assert n == 115200


def test_ovm_gsm8k_responses_have_one_step_per_line(shared_data):
    """OVM's Mistral-7B / Llama-2-7B GSM8K completions write one step per line with single newlines: each line is a
    step (they used to be one step each, which turned every PRM over them into an ORM)."""
    files = sorted((shared_data / "ovm_gsm8k_samples").glob("*.jsonl"))
    if not files:
        pytest.skip(f"OVM samples not found under {shared_data / 'ovm_gsm8k_samples'}")
    total = multi = 0
    for f in files:
        for row in f.read_text(encoding="utf-8").splitlines():
            for out in json.loads(row)["outputs"]:
                text = out["response"]
                steps = split_steps(text)
                assert covers(text, step_spans(text))
                assert steps == [ln.strip() for ln in text.splitlines() if ln.strip()] or "\n\n" in text
                total += 1
                multi += len(steps) > 1
    assert total >= 8000 and multi / total >= 0.9, (multi, total)
