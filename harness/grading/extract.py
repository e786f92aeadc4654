"""Final-answer extraction from a response text.

Styles, tried in this order (the first that finds something wins):
  boxed    last `\\boxed{...}` / `\\fbox{...}` (balanced braces; `\\boxed 5` too)
  minerva  lm-eval/Minerva "Final Answer: The final answer is X. I hope it is correct."
  gsm8k    "#### N" (GSM8K references and fine-tuned generators)
  answer   last "The answer is X" / "The final answer is: X" / "Answer: X" (the paper's pools, the arith world)
  a_line   a last line "A: N" (OpenAI's GSM8K example solutions)
  number   last number in the text, only when the caller allows it (GSM8K-style grading)
A truncated response whose last `\\boxed{` never closes has no boxed answer: we do not guess a half-written one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.grading.normalize import MAX_ANSWER_CHARS, clean_answer, matching_brace

_BOXED = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_HOPE = re.compile(r"I hope it is correct", re.I)
_MINERVA = re.compile(r"final answer is\s*", re.I)
_HASHES = re.compile(r"####\s*([^\n]*)")
_ANSWER = re.compile(r"\b(?:final\s+)?answer\s*(?:is\s*:?|:)\s*", re.I)
_NUMBER = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_LAST_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_NUMBER_THEN_CLAUSE = re.compile(r"^(" + _NUMBER + r")\s*,\s+[A-Za-z]")
_PROSE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{3,}")  # a word that is not a LaTeX command


@dataclass(frozen=True)
class Extraction:
    answer: str | None
    style: str | None  # which rule found it (see the module docstring); None when nothing was found


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed / \\fbox, or None (also when that box is never closed)."""
    matches = list(_BOXED.finditer(text))
    if not matches:
        return None
    i = matches[-1].end()
    while i < len(text) and text[i] == " ":
        i += 1
    if i < len(text) and text[i] == "{":
        end = matching_brace(text, i)
        return None if end is None else text[i + 1:end]
    m = re.match(r"([^\s$]+)", text[i:])  # "\boxed 5"
    return m.group(1) if m else None


def _first_expression(rest: str) -> str:
    """The answer at the start of free text that follows "The answer is"."""
    rest = rest.lstrip()
    if "\\boxed" in rest[:200] or "\\fbox" in rest[:200]:
        boxed = last_boxed(rest.split("\n", 1)[0])
        if boxed is not None:
            return boxed
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if rest.startswith(left):
            end = rest.find(right, len(left))
            if end > 0:
                return rest[len(left):end]
            break  # "$18." with no closing "$" is a currency sign; handled below
    line = rest.split("\n", 1)[0]
    line = re.split(r"\.(?:\s|$)", line, maxsplit=1)[0]  # sentence end; "3.5" has no space after its dot
    line = line.strip().strip("*").strip()
    m = _NUMBER_THEN_CLAUSE.match(line)  # "18, which is ..." (units after a number: clean_answer)
    return m.group(1) if m else line


def _minerva(text: str) -> str | None:
    hopes = list(_HOPE.finditer(text))
    if not hopes:
        return None
    end = hopes[-1].start()
    window = text[max(0, end - 2 * MAX_ANSWER_CHARS):end]
    starts = list(_MINERVA.finditer(window))
    if not starts:
        return None
    ans = window[starts[-1].end():].strip()
    return ans[:-1] if ans.endswith(".") else ans


def find_answer(text: str, fallback_number: bool = False) -> Extraction:
    """The answer a response commits to and the style that found it; Extraction(None, None) if none."""
    if not isinstance(text, str) or not text:
        return Extraction(None, None)
    candidates = []
    boxed = last_boxed(text)
    if boxed is not None:
        candidates.append(("boxed", boxed))
    else:
        minerva = _minerva(text)
        if minerva is not None:
            candidates.append(("minerva", _first_expression(minerva) if "$" in minerva[:1] else minerva))
        hashes = list(_HASHES.finditer(text))
        if hashes:
            candidates.append(("gsm8k", _first_expression(hashes[-1].group(1))))
        answers = list(_ANSWER.finditer(text))
        if answers:
            candidates.append(("answer", _first_expression(text[answers[-1].end():])))
        lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
        if lines and lines[-1].startswith("A:"):
            candidates.append(("a_line", _first_expression(lines[-1][2:])))
        if fallback_number:
            numbers = list(_LAST_NUMBER.finditer(text))
            if numbers:
                candidates.append(("number", numbers[-1].group(0)))
    for style, raw in candidates:
        ans = clean_answer(raw)
        if ans is not None and fallback_number and style != "number" and _PROSE.search(ans):
            # "**Answer:** Verna received $7.00 in change." -> its last number, when numbers are what we grade
            numbers = list(_LAST_NUMBER.finditer(ans))
            ans = clean_answer(numbers[-1].group(0)) if numbers else ans
            style += "+number"
        if ans is not None:
            if style == "number" or style.endswith("+number"):
                ans = ans.replace(",", "")
            return Extraction(ans, style)
    return Extraction(None, None)


def extract_answer(text: str, fallback_number: bool = False) -> str | None:
    """The final answer of `text`, cleaned of presentation, or None when it states none."""
    return find_answer(text, fallback_number).answer
