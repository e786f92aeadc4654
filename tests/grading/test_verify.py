"""Verdicts and vote keys agree: a table of (a, b, graded equal) that covers words, intervals and inequalities,
percentages, decimals near an integer and decimal commas; each pair is decided the same both ways round, and the
two answers share a vote key exactly when they are graded equal. Also: references that do not parse, and the grader
version hash."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.grading import answer_key, is_equivalent
from harness.grading import verify as verify_mod
from harness.grading.verify import is_word, reference_parses

AGREE = [
    # words compare as text (case and spacing normalised), never as products of letters
    ("\\text{east}", "\\text{seat}", False), ("listen", "silent", False), ("ab", "ba", False),
    ("East", "\\text{ east }", True), ("\\text{No solution}", "no solution", True), ("yes", "\\textbf{Yes}", True),
    ("\\text{even}", "\\text{odd}", False),
    # an inequality equals its solution set, whichever side is the reference
    ("(-\\infty,2]", "x \\le 2", True), ("(-\\infty,2)", "x \\le 2", False), ("x < 3", "(-\\infty, 3)", True),
    ("[0, \\infty)", "x \\ge 0", True), ("(1,2)", "1 < x < 2", True), ("x^2 = 4", "\\{-2, 2\\}", True),
    # decimals: 6-place rounding against fractions, exact against integers (as math-verify compares)
    ("0.0000001", "0", False), ("1.0000001", "1", False), ("0.5000001", "\\frac12", True), ("0.333333", "1/3", True),
    ("12.0", "12", True), ("0.0000001", "0.000001", False),
    # a percentage is its value
    ("10\\%", "0.1", True), ("10\\%", "\\frac{1}{10}", True), ("12.5\\%", "\\frac18", True), ("10\\%", "0.2", False),
    # LaTeX's decimal comma
    ("2{,}5", "2.5", True), ("2{,}5", "2,5", False), ("10{,}000", "10000", True), ("0{,}125", "\\frac18", True),
]


@pytest.mark.parametrize("a, b, equal", AGREE)
def test_verdict_is_symmetric_and_keys_agree(a, b, equal):
    assert is_equivalent(a, b) is equal
    assert is_equivalent(b, a) is equal
    assert (answer_key(a) == answer_key(b)) is equal, (answer_key(a), answer_key(b))


def test_words():
    assert is_word("\\text{east}") and is_word("No solution") and is_word("ab")
    assert not any(is_word(s) for s in ["x", "C", "\\pi", "pi", "2ab", "\\text{(C)}", "A,D", "x^2"])


@pytest.mark.parametrize("reference, parses", [
    ("\\frac{1}{2}", True), ("14/3", True), ("\\text{Monday}", True), ("(-\\infty, 2]", True), ("\\text{(C)}", True),
    ("1 000", True), ("\\frac{1}{", False), ("", False), ("\\sqrt{", False),
])
def test_reference_parses(reference, parses):
    assert reference_parses(reference) is parses


def test_grader_version_covers_every_file_that_decides_a_grade(tmp_path):
    here = Path(verify_mod.__file__).resolve().parent
    copy = tmp_path / "grading"
    copy.mkdir()
    for name in verify_mod.GRADER_FILES:
        shutil.copy(here / name, copy / name)
    base = verify_mod._grader_version(copy)
    assert base == verify_mod.GRADER_VERSION
    for name in verify_mod.GRADER_FILES:
        original = (copy / name).read_text()
        (copy / name).write_text(original + "\n# edited\n")
        assert verify_mod._grader_version(copy) != base, name
        (copy / name).write_text(original)
