"""Is an answer mathematically equal to the reference, and which answers are "the same" for voting.

math-verify decides first (both sides parsed with its LaTeX and plain-expression grammars, then `verify(gold,
pred)`: fractions = decimals, sets, intervals, units and degrees stripped, x = 5 vs 5). Where it cannot parse a
side, a small safe arithmetic parser (safe_arith) takes over. Before either sees a value, a magnitude guard
refuses numbers with more than MAX_DIGITS digits (10^{10^{10}} would otherwise be computed in C, where no timeout
reaches). Nothing here raises: a failure is "not equivalent".

Vote keys (`answer_key`) follow the same verdicts, so a vote never splits answers the grader calls equal: integer
percentages key as the integer, written decimals as the simplest fraction that rounds to them at math-verify's six
places, expressions in symbols by their values at fixed points. Equality within rounding is not transitive (10% = 10
and 10% = 0.1, but 10 != 0.1), so where the verdicts disagree among themselves the key takes the rule stated here.

Timeouts are not handled here (math-verify's own are switched off because they only work on the main thread):
callers wrap calls in harness.grading.deadline or run them in runner's worker processes.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import logging
import math
import re
from fractions import Fraction
from pathlib import Path

import sympy
from sympy.matrices import MatrixBase

from harness.grading.normalize import MAX_ANSWER_CHARS, clean_answer, normalize_text
from harness.grading.safe_arith import Unsafe, parse_arith

logging.getLogger("math_verify").setLevel(logging.ERROR)  # it warns once that we disabled its timeouts

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify  # noqa: E402


# the code that decides a grade: what answer a response gives, and whether it equals the reference
GRADER_FILES = ("extract.py", "verify.py", "normalize.py", "safe_arith.py")


def _grader_version(here: Path | None = None) -> str:
    """Cached verdicts are keyed by this: a hash of the code that decides grades (GRADER_FILES, in `here`, this
    package by default), so an edit to any of them never reuses a verdict the old code made; plus the math-verify
    version. Reports cite it, so extraction is in the hash too although verdicts do not depend on it."""
    here = here or Path(__file__).resolve().parent
    code = hashlib.sha256()
    for name in GRADER_FILES:
        code.update((here / name).read_bytes())
    return f"{code.hexdigest()[:12]}/math-verify-{importlib.metadata.version('math-verify')}"


GRADER_VERSION = _grader_version()
MAX_DIGITS = 20000

_CONFIG = [LatexExtractionConfig(), ExprExtractionConfig()]
_UNICODE = {"−": "-", "–": "-", "×": "\\times ", "÷": "\\div ", "π": "\\pi ", "°": "^\\circ",
            "½": "\\frac{1}{2}",
            "¼": "\\frac{1}{4}", "¾": "\\frac{3}{4}", "∞": "\\infty ", "√": "\\sqrt "}
# thousands separators that math-verify reads as products ("1 000" -> 1*0): a space, "\,", "{,}", "~"
_GROUP_SEP = re.compile(r"(?<=\d)(?:\\[,;! ]|~|\{,\}| )(?=\d{3}(?!\d))")
_WORD = re.compile(r"[a-z][a-z'-]*[a-z]")
_SCIENTIFIC = re.compile(r"^([-+]?\d+(?:\.\d+)?)[eE]([-+]?\d+)$")


def _prepare(s: str) -> str:
    for k, v in _UNICODE.items():
        s = s.replace(k, v)
    s = _GROUP_SEP.sub("", s)
    s = _SCIENTIFIC.sub(r"\1\\times 10^{\2}", s)
    return s


def _log10_bound(e, depth: int = 0) -> float:
    """Upper bound on log10 of the magnitude a sympy tree evaluates to (symbols count as 10)."""
    if depth > 100:
        return math.inf
    if isinstance(e, MatrixBase):
        return max((_log10_bound(x, depth + 1) for x in e), default=0.0)
    if not isinstance(e, sympy.Basic):
        return 0.0
    if isinstance(e, sympy.Rational):
        return max(abs(int(e.p)), abs(int(e.q))).bit_length() * 0.30103
    if isinstance(e, sympy.Float):
        return abs(e._mpf_[2] + e._mpf_[3]) * 0.30103 if e._mpf_[1] else 0.0
    if e.is_Atom:
        return 1.0
    args = e.args
    if isinstance(e, sympy.Pow):
        base, ex = _log10_bound(args[0], depth + 1), _log10_bound(args[1], depth + 1)
        if args[0] in (sympy.S.Zero, sympy.S.One, sympy.S.NegativeOne):
            return 0.0
        return base * 10 ** ex if ex < 12 else math.inf
    if isinstance(e, (sympy.factorial, sympy.gamma, sympy.binomial, sympy.factorial2)):
        n = max(_log10_bound(a, depth + 1) for a in args)
        return 10 ** n * n if n < 12 else math.inf
    if isinstance(e, sympy.exp):
        n = _log10_bound(args[0], depth + 1)
        return 10 ** n * 0.4343 if n < 12 else math.inf
    bounds = [_log10_bound(a, depth + 1) for a in args]
    if isinstance(e, sympy.Mul):
        return sum(bounds)
    return max(bounds, default=0.0) + math.log10(max(len(args), 1))


def _values(parsed) -> list:
    """The sympy values of a math-verify parse (it also returns the matched string), if small enough."""
    vals = [v for v in parsed if isinstance(v, (sympy.Basic, MatrixBase))]
    if any(_log10_bound(v) > MAX_DIGITS for v in vals):
        return []
    return vals


@functools.lru_cache(maxsize=8192)
def _parse(s: str) -> tuple:
    """math-verify's parse of a cleaned answer, or () when it has no mathematical value for it."""
    try:
        parsed = parse("\\boxed{" + _prepare(s) + "}", extraction_config=_CONFIG, parsing_timeout=None)
    except Exception:
        return ()
    return tuple(_values(parsed))


@functools.lru_cache(maxsize=8192)
def _arith(s: str):
    try:
        v = parse_arith(s)
    except (Unsafe, ArithmeticError, TypeError, ValueError, RecursionError):
        return None
    return v if _log10_bound(v) <= MAX_DIGITS else None


def _is_equivalent(reference: str, answer: str) -> bool:
    ref, ans = clean_answer(reference), clean_answer(answer)
    if not ref or not ans:
        return False
    if normalize_text(ref) == normalize_text(ans):
        return True
    if len(ref) > MAX_ANSWER_CHARS or len(ans) > MAX_ANSWER_CHARS:
        return False
    if is_word(ref) or is_word(ans):
        return False  # words compare as text (above), never as products of letters ("listen" = "silent")
    gold, pred = list(_parse(ref)), list(_parse(ans))
    if not gold or not pred:  # math-verify has no value for a side: plain arithmetic may
        gold = gold or ([v] if (v := _arith(ref)) is not None else [])
        pred = pred or ([v] if (v := _arith(ans)) is not None else [])
        if not gold or not pred:
            return False
    # allow_set_relation_comp: an inequality equals its solution set whichever side is the reference
    # ("x \\le 2" vs "(-\\infty, 2]"); by default math-verify converts only a reference relation
    if verify(gold, pred, timeout_seconds=None, allow_set_relation_comp=True):
        return True
    # a relation against a set is decided both ways round ("x^2 = 4" vs "{-2, 2}"), as its vote key is its set
    if (any(_is_relation(v) for v in gold) and any(isinstance(v, sympy.Set) for v in pred)) or \
            (any(_is_relation(v) for v in pred) and any(isinstance(v, sympy.Set) for v in gold)):
        return bool(verify(pred, gold, timeout_seconds=None, allow_set_relation_comp=True))
    return False


def _is_relation(value) -> bool:
    return isinstance(value, (sympy.Rel, sympy.And)) and len(getattr(value, "free_symbols", ())) == 1


def is_word(answer: str) -> bool:
    """A word or phrase of letters ("east", "\\text{No solution}", "ab"): compared as text, case and spacing
    normalised. Single letters ("x", "C") and "pi" stay math."""
    text = normalize_text(answer)
    return bool(_WORD.fullmatch(text)) and text != "pi"


def reference_parses(reference: str) -> bool:
    """Whether a reference has a value the grader can compare with: a word, a math-verify parse or plain
    arithmetic. One that has none (a cut-off "\\frac{1}{") only ever equals its own spelling."""
    try:
        ref = clean_answer(reference)
        if not ref or len(ref) > MAX_ANSWER_CHARS:
            return False
        return is_word(ref) or bool(_parse(ref)) or _arith(ref) is not None
    except (Exception, RecursionError):
        return False


def is_equivalent(reference: str, answer: str) -> bool:
    """True when `answer` is mathematically equal to `reference`; False on anything unparseable or failing."""
    try:
        return _is_equivalent(reference, answer)
    except (Exception, RecursionError):
        return False


def _percent_value(value):
    """math-verify reads "X\\%" as X * UnevaluatedExpr(1/100); a percentage votes with its value (10% with 0.1,
    10.5% with 0.105). math-verify also calls an integer percentage equal to the integer (10% = 10, for references
    that drop the sign); a key cannot follow both, and the value is what 10% means."""
    if isinstance(value, sympy.Mul) and len(value.args) == 2 and \
            value.args[1] == sympy.UnevaluatedExpr(sympy.Rational(1, 100)):
        return value.args[0] / 100
    return value


def _simplest_between(lo: Fraction, hi: Fraction) -> Fraction:
    """The fraction with the smallest denominator in [lo, hi] (lo <= hi), by continued fractions."""
    fl = math.floor(lo)
    if fl == lo or fl + 1 <= hi:
        return Fraction(fl if fl == lo else fl + 1)
    return fl + 1 / _simplest_between(1 / (hi - fl), 1 / (lo - fl))


def _decimal(f) -> sympy.Rational:
    """A written decimal as the simplest fraction math-verify would call equal to it: it compares a decimal with any
    number by rounding both to 6 places, so 0.333333 votes with 1/3, 0.142857 with 1/7, 0.5 with 1/2, 0.333 stays
    333/1000 (no simpler fraction rounds to it)."""
    written = Fraction(str(f))
    c = round(written, 6)  # as math-verify rounds it: 0.3333333 and 0.333333 both vote with 1/3
    half = Fraction(1, 2 * 10**6)
    r = _simplest_between(c - half, c + half - Fraction(1, 10**15))
    if r.denominator == 1 and r != written:
        # math-verify compares a decimal with an integer exactly (0.0000001 != 0, 1.0000001 != 1): as written
        r = written
    return sympy.Rational(r.numerator, r.denominator)


def _point(name: str, k: int) -> sympy.Rational:
    """A fixed, irregular value for a free symbol at evaluation point k (the same for every answer)."""
    h = int(hashlib.sha256(f"{name}|{k}".encode()).hexdigest()[:8], 16)
    x = sympy.Rational(3, 10) + sympy.Rational(h % 100003, 71429)
    return -x if k == 1 else x  # one negative point keeps |x| and sqrt(x^2) apart from x


def _function_key(value) -> str | None:
    """Expressions in free symbols vote together when they are the same function: their values at three fixed
    points, to 12 significant digits (x(x+2) with x^2+2x, cot x with 1/(sin x cos x) - tan x, as verify's symbolic
    check finds). None when a value is not a finite number there."""
    parts = []
    for k in range(3):
        v = sympy.N(value.subs({s: _point(s.name, k) for s in value.free_symbols}), 30)
        re_, im_ = v.as_real_imag()
        if not (re_.is_number and im_.is_number) or not (re_.is_finite and im_.is_finite):
            return None
        parts.append(f"{sympy.Float(re_, 12)}{'' if abs(im_) < 1e-20 else f'+{sympy.Float(im_, 12)}i'}")
    return "f:" + ",".join(sorted(s.name for s in value.free_symbols)) + ":" + ";".join(parts)


def _key_of(value) -> str | None:
    if isinstance(value, sympy.Eq) and isinstance(value.lhs, sympy.Symbol):
        value = value.rhs  # "x = 5" votes with "5"
    elif _is_relation(value):
        try:  # an inequality in one variable votes with its solution set, as it is graded: "x \\le 2", "(-oo, 2]"
            value = value.as_set()
        except Exception:
            pass
    if isinstance(value, MatrixBase):
        return "m:" + sympy.sstr(value.tolist())
    if not isinstance(value, sympy.Basic):
        return None
    value = _percent_value(value)
    floats = value.atoms(sympy.Float)
    if floats:  # written decimals, inside any expression (10.5\pi votes with \frac{21}{2}\pi)
        value = value.xreplace({f: _decimal(f) for f in floats})
    if value.is_number and not isinstance(value, (sympy.Set, sympy.Tuple)):
        v = value.doit()
        if not isinstance(v, sympy.Rational):
            v = sympy.nsimplify(v) if isinstance(v, sympy.Float) else sympy.simplify(v)
        return "n:" + sympy.sstr(v)
    if isinstance(value, sympy.Expr) and value.free_symbols:
        return _function_key(value) or "e:" + sympy.sstr(sympy.expand(value))
    return "o:" + sympy.sstr(value)


def text_key(answer: str) -> str | None:
    """The vote key of an answer by its spelling only; long answers by a hash of it."""
    text = normalize_text(answer)
    if not text:
        return None
    return "s:" + text if len(text) <= 200 else "h:" + hashlib.sha256(text.encode()).hexdigest()[:24]


def _answer_key(answer: str) -> str | None:
    ans = clean_answer(answer)
    if ans is None:
        return None
    text = text_key(ans)
    if len(ans) > MAX_ANSWER_CHARS or is_word(ans):
        return text
    values = list(_parse(ans))
    if not values and (v := _arith(ans)) is not None:
        values = [v]
    if not values:
        return text
    try:
        key = _key_of(values[0])
    except (Exception, RecursionError):
        key = None
    return key if key is not None else text


def answer_key(answer: str | None) -> str | None:
    """A canonical string: mathematically equal answers share it ("0.5", "1/2", "\\frac12" -> "n:1/2").

    None for no answer. Answers nothing can parse fall back to a whitespace- and LaTeX-normalised string ("s:...").
    """
    if answer is None:
        return None
    try:
        return _answer_key(answer)
    except (Exception, RecursionError):
        return text_key(str(answer))
