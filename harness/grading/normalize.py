"""String clean-up shared by extraction, verification and answer keys.

`clean_answer` removes presentation around an answer (math delimiters, a closing period, a currency sign, a unit
written as text after a number) without changing its mathematical content. `normalize_text` is the last resort
when nothing can parse an answer: two answers that differ only in spacing or LaTeX spelling compare equal.
"""

from __future__ import annotations

import re

# How much of an answer we look at: real final answers are short, and a 5,000-character "answer" is a
# runaway generation whose parse would only cost time.
MAX_ANSWER_CHARS = 1000

_DELIMS = [("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("**", "**")]
_NUMBER = r"[-+]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)"
_TEXT_UNIT = re.compile(r"^(" + _NUMBER + r")\s*(?:\\(?:text|mbox|mathrm|textbf)\s*\{\s*[A-Za-z][A-Za-z .]*\}\s*)+$")
# "18 dollars", "5 apples each": a number followed only by words is that number ("2 pi", "1 and 2" are not)
_NUMBER_THEN_WORDS = re.compile(r"^(" + _NUMBER + r")\s+(?!(?:pi|and|or|to)\b)(?:[A-Za-z][A-Za-z'-]+\.?\s*)+$")
# "8\\sqrt{3} \\text { square inches}": unit words after a math expression (not "\\text{(A)}\\text{ Paris}")
_TRAILING_UNIT = re.compile(r"^((?:(?!\\text).)*?[\d}\)])\s*"
                            r"(?:\\(?:text|mbox|mathrm)\s*\{\s*[A-Za-z]{2}[A-Za-z .]*\}\s*)+$")
_WRAPPED = re.compile(r"^\\(?:boxed|fbox|text|textbf|mathrm|mbox)\s*\{")


# "2{,}5" is LaTeX's decimal comma (2.5); "10{,}000" a thousands group (verify reads it), as is any "{,}" before
# exactly three digits unless the integer part is 0 ("0{,}125" = 0.125)
_DECIMAL_COMMA = re.compile(r"(?<![\d.])(\d+)\{,\}(\d+)(?![\d{])")


def decimal_comma(s: str) -> str:
    """'2{,}5' -> '2.5' (a decimal comma); '10{,}000' and '1{,}008{,}000' are left as thousands groups."""
    def one(m: re.Match) -> str:
        whole, frac = m.group(1), m.group(2)
        if len(frac) == 3 and whole != "0":
            return m.group(0)
        return f"{whole}.{frac}"
    return _DECIMAL_COMMA.sub(one, s)


def matching_brace(s: str, open_at: int) -> int | None:
    """Index of the '}' closing the '{' at `open_at`, skipping escaped braces; None when unbalanced."""
    depth = 0
    i = open_at
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\":
            i += 2  # \{ and \} are literal braces (set notation), not grouping
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def _unwrap_command(s: str) -> str:
    """`\\boxed{X}` / `\\text{X}` covering the whole string -> X (repeatedly)."""
    while True:
        m = _WRAPPED.match(s)
        if not m:
            return s
        end = matching_brace(s, m.end() - 1)
        if end != len(s) - 1:
            return s
        s = s[m.end():end].strip()


def _strip_delims(s: str) -> str:
    changed = True
    while changed:
        changed = False
        for left, right in _DELIMS:
            if len(s) >= len(left) + len(right) and s.startswith(left) and s.endswith(right):
                inner = s[len(left):len(s) - len(right)].strip()
                # "$5 and $6" is not one delimited expression
                if left == "$" and "$" in inner:
                    continue
                s, changed = inner, True
    return s


def clean_answer(s: str | None) -> str | None:
    """Presentation removed; None for an empty answer. Never raises."""
    if s is None:
        return None
    s = str(s)[: MAX_ANSWER_CHARS * 2].strip()
    for _ in range(4):  # layers come in any order: "$\\boxed{5}$." , "**$18$**"
        before = s
        s = s.strip().rstrip(".,;").rstrip()  # not "!": 5! is an answer
        s = _strip_delims(s)
        s = _unwrap_command(s)
        if s.count("$") == 1 or s.startswith("\\$"):  # currency: "\$18.00", "$18" (not "$5$ and $6$")
            s = re.sub(r"^\\\$\s*|^\$\s*(?=\d)", "", s)
        s = re.sub(r"^\\(?=\d)", "", s)  # "\15": a "\$15" that lost its dollar sign
        s = re.sub(r"\\(?:displaystyle|left|right)\b\s*", "", s).strip()
        s = decimal_comma(s)
        m = _TEXT_UNIT.match(s)
        m = m or _NUMBER_THEN_WORDS.match(s) or _TRAILING_UNIT.match(s)
        if m:  # "5\text{ cm}", "18 dollars" -> what is left when only unit words follow
            s = m.group(1)
        if s == before:
            break
    return s or None


def normalize_text(s: str) -> str:
    """Spelling-insensitive form for comparing answers nothing could parse (e.g. '\\text{Monday}' vs 'monday')."""
    s = clean_answer(s) or ""
    s = re.sub(r"\\[dt]frac", r"\\frac", s)
    s = re.sub(r"\\(?:text|textbf|mathrm|mbox|operatorname)\s*\{([^{}]*)\}", r"\1", s)
    s = re.sub(r"\\[,;:! ]|~", "", s)
    s = s.replace("{,}", ",")
    s = re.sub(r"\s+", "", s)
    return s.lower()
