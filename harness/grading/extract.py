"""Final-answer extraction from a response text.

Styles, tried in this order (the first that finds something wins):
  boxed    the last `\\boxed{...}` / `\\fbox{...}` (balanced braces; `\\boxed 5` too); boxes just before it that
           are joined to it ("\\boxed{2} and \\boxed{-3}") are read with it as one set, as math-verify reads them
  final    a "final answer ... is X" statement *after* the last box overrides it ("\\boxed{5} ... The final answer
           is 6" -> 6), as in math-verify, where both have the same priority and the later one wins
  minerva  lm-eval/Minerva "Final Answer: The final answer is X. I hope it is correct."
  gsm8k    "#### N" (GSM8K references and fine-tuned generators)
  answer   last "The answer is X" / "The final answer is: X" / "Answer: X" (the paper's pools, the arith world)
  a_line   a last line "A: N" (OpenAI's GSM8K example solutions)
  last     the last math expression ($...$, \\(...\\), \\[...\\], or a plain number) when nothing marks an answer,
           as math-verify takes it (MATH-style grading only)
  number   last number in the text, only when the caller allows it (GSM8K-style grading)
An answer stated as a sentence ("Final Answer: The largest $n$ is 34.") is the last expression in that sentence.
A truncated response whose last `\\boxed{` never closes has no answer: we do not guess a half-written one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.grading.normalize import MAX_ANSWER_CHARS, clean_answer, matching_brace, normalize_text

_BOXED = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_HOPE = re.compile(r"I hope it is correct", re.I)
_MINERVA = re.compile(r"final answer is\s*", re.I)
# math-verify's "final answer.{0,100}? is" (its priority equals the box's): up to 100 characters, then " is"
_FINAL_IS = re.compile(r"final answer(?:[^\n]{0,100}?\s+is\s*:?\s*|\s*:\s*)", re.I)
_HASHES = re.compile(r"####\s*([^\n]*)")
_ANSWER = re.compile(r"\b(?:final\s+)?answer\s*(?:is\s*:?|:)\s*", re.I)
_NUMBER = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_LAST_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_NUMBER_THEN_CLAUSE = re.compile(r"^(" + _NUMBER + r")\s*,\s+[A-Za-z]")
_PROSE = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{3,}")  # a word that is not a LaTeX command
# math in a text: display first, so "$$x$$" is not read as two empty inline spans; inline spans stay on one line
_MATH_SPAN = re.compile(r"(?<!\\)\$\$(.+?)(?<!\\)\$\$|(?<!\\)\\\[(.+?)\\\]|(?<![\\\d])\$((?:\\\$|[^\n$])+?)(?<!\\)\$"
                        r"|(?<!\\)\\\(((?:[^\\\n]|\\(?!\)))+?)\\\)", re.S)
# a plain number outside math, anchored as math-verify anchors it (after a space, "=", "(", "**" or a currency sign)
_PLAIN_NUMBER = re.compile(r"(?:^|(?<=[\s=(*]))(?:\\?[$€£])?(-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\.\d+)(?!\d)"
                           r"(\s*(?:\\?%|percent\b))?")
_JOIN = re.compile(r"\s*(?:,?\s*and|,?\s*or|,)\s*")
# text in math, and a command's one-word argument (\\begin{pmatrix}, \\mathbb{R}): neither is prose
_TEXT_CMD = re.compile(r"\\(?:text|textbf|mathrm|mbox)\s*\{[^{}]*\}|\\[A-Za-z]+\s*\{[A-Za-z*]*\}")
_SEPARATOR = re.compile(r"\b(?:and|or)\b|,|;")
# a word of prose: not a LaTeX command, not "and" / "or" (which join answers), not capitals ("RPS", a name in math)
_PROSE_WORD = re.compile(r"(?<![\\A-Za-z])(?!(?:and|or)\b)[A-Za-z][a-z]{2,}")


@dataclass(frozen=True)
class Extraction:
    answer: str | None
    style: str | None  # which rule found it (see the module docstring); None when nothing was found


def _boxes(text: str) -> list[tuple[int, int, str | None]]:
    """(start, end, content) of every \\boxed / \\fbox; content None for one that never closes."""
    out = []
    for m in _BOXED.finditer(text):
        if out and m.start() < out[-1][1]:
            continue  # a box inside a box: "\boxed{\boxed{3}}" is one answer
        i = m.end()
        while i < len(text) and text[i] == " ":
            i += 1
        if i < len(text) and text[i] == "{":
            end = matching_brace(text, i)
            out.append((m.start(), len(text) if end is None else end + 1,
                        None if end is None else text[i + 1:end]))
        else:
            b = re.match(r"([^\s$]+)", text[i:])  # "\boxed 5"
            out.append((m.start(), i + (b.end() if b else 0), b.group(1) if b else None))
    return out


def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed / \\fbox, or None (also when that box is never closed)."""
    boxes = _boxes(text)
    return boxes[-1][2] if boxes else None


def _has_prose(s: str) -> bool:
    """Words of prose in `s` (text commands and commands' one-word arguments do not count)."""
    return bool(_PROSE_WORD.search(_TEXT_CMD.sub(" ", s)))


def _same_text(a: str, b: str) -> bool:
    return normalize_text(a) == normalize_text(b)


def boxed_answer(text: str) -> tuple[str | None, int]:
    """The last box's content, with the boxes joined to it read as one set, and where that last box ends.

    math-verify's rule (latex2sympy2_extended, extract_boxed_content, mode "last"): walking back from the last box,
    an earlier box belongs to the answer when less than 10 characters separate them, or less than 70 with an
    "and" / "or" / "," / ";" between them and a different content; equal neighbours count once. (None, -1) when
    there is no box, (None, end) when the last one never closes."""
    boxes = [b for b in _boxes(text) if b[2] is None or b[2].strip()]
    if not boxes:
        return None, -1
    start, end, content = boxes[-1]
    if content is None:
        return None, end
    parts = [content.strip()]
    for b_start, b_end, b_content in reversed(boxes[:-1]):
        if b_content is None:
            break
        between = text[b_end:start]
        near = len(between) < 10 or (len(between) < 70 and not _same_text(b_content, parts[-1])
                                     and _SEPARATOR.search(between))
        if not near:
            break
        if _same_text(b_content, parts[-1]):
            parts[-1] = b_content.strip()  # "$\\boxed{256.70}$ ... $\\boxed{\\$256.70}$" is one answer
        else:
            parts.append(b_content.strip())
        start = b_start
    return ",".join(reversed(parts)), end


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


def _last_eq(latex: str) -> str:
    """"x = 5050 - 5005 = 45" -> "45": a chain of equalities stands for its last side (math-verify's get_last_eq;
    "x = 45" alone stays an equation, "a=1, b=2" is not split)."""
    if "," in latex or ";" in latex:
        return latex
    parts = re.split(r"(?<![\\<>!])=", latex)
    return parts[-1] if len(parts) > 2 else latex


def last_expression(text: str) -> str | None:
    """The math expression that ends last in `text`: a $...$ / \\(...\\) / \\[...\\] span (the last side of an
    equality chain), or a plain number outside math (with its percent sign); None when there is none."""
    best: tuple[int, str] | None = None
    spans = []
    joined: list[str] = []
    for m in _MATH_SPAN.finditer(text):
        inner = next(g for g in m.groups() if g is not None).strip()
        if m.group(3) is not None and _has_prose(inner):
            continue  # "$2 each, so she makes $": two currency signs, not math
        if inner and not re.fullmatch(r"[.,;:]*", inner):
            # spans joined by "and" / "or" / "," are one answer, a set (math-verify reads up to 6 so)
            if spans and _JOIN.fullmatch(text[spans[-1][1]:m.start()]) and len(joined) < 6:
                joined.append(_last_eq(inner).strip())
            else:
                joined = [_last_eq(inner).strip()]
            best = (m.end(), ",".join(joined))
        spans.append((m.start(), m.end()))
    for m in _PLAIN_NUMBER.finditer(text):
        if any(a <= m.start() < b for a, b in spans):
            continue
        if best is None or m.end() > best[0]:
            best = (m.end(), m.group(1) + ("\\%" if m.group(2) else ""))
    return best[1] if best else None


def _sentence_answer(ans: str) -> str:
    """An answer stated as a sentence ("The largest $n$ is 34") is the last expression in it; text without any
    expression ("Monday", "no solution") is kept as it is."""
    if not _has_prose(_MATH_SPAN.sub(" ", ans)):
        return ans
    expr = last_expression(ans)
    return expr if expr is not None else ans


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


def _final_after(text: str, after: int) -> str | None:
    """The answer of the last "final answer ... is X" statement that starts after position `after`."""
    finals = [m for m in _FINAL_IS.finditer(text) if m.start() >= after]
    if not finals:
        return None
    rest = text[finals[-1].end():]
    if not rest.strip():
        return None
    first = _first_expression(rest)
    ans = _sentence_answer(_HOPE.split(first, 1)[0].rstrip(" .") or first)
    # a statement with no expression in it ("the final answer is that f is increasing") does not override a box
    return None if _has_prose(_MATH_SPAN.sub(" ", ans)) else ans


def _candidates(text: str, fallback_number: bool) -> list[tuple[str, str]] | None:
    """(style, raw answer) in the order they are tried; None when the last box is never closed."""
    boxed, box_end = boxed_answer(text)
    if box_end >= 0:
        if boxed is None:
            return None
        final = _final_after(text, box_end)
        if final is not None and clean_answer(final) is not None:
            return [("final", final), ("boxed", boxed)]
        return [("boxed", boxed)]
    candidates = []
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
    else:
        last = last_expression(text)
        if last is not None:
            candidates.append(("last", last))
    return candidates


def find_answer(text: str, fallback_number: bool = False) -> Extraction:
    """The answer a response commits to and the style that found it; Extraction(None, None) if none."""
    if not isinstance(text, str) or not text:
        return Extraction(None, None)
    for style, raw in _candidates(text, fallback_number) or []:
        ans = clean_answer(raw)
        if ans is not None and style in ("minerva", "answer", "a_line", "gsm8k") and not fallback_number:
            ans = clean_answer(_sentence_answer(ans))
        if ans is not None and fallback_number and style not in ("number", "boxed") and _PROSE.search(ans):
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
