"""A small, safe parser for plain arithmetic answers that math-verify's LaTeX/expression grammars reject.

Covers what generators actually write outside LaTeX: "1 000", "1,000.5", "−3" (Unicode minus), "3×10^5", "½",
"2 1/2" is NOT read as a mixed number (ambiguous). The text is parsed with Python's `ast` and only numbers,
+ - * / ^, parentheses, sqrt, pi and e are accepted: nothing is ever evaluated as code (model output is untrusted,
and sympy's own parse_expr runs eval).
"""

from __future__ import annotations

import ast
import math
import re

import sympy

MAX_CHARS = 200
MAX_DIGITS = 20000  # results larger than this are refused before any big-integer arithmetic

_UNICODE = {"−": "-", "–": "-", "×": "*", "·": "*", "÷": "/", "½": "(1/2)", "¼": "(1/4)", "¾": "(3/4)",
            "π": "pi", "√": "sqrt", "^": "**"}
_LATEX = [(r"\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"((\1)/(\2))"), (r"\\sqrt\s*\{([^{}]*)\}", r"sqrt(\1)"),
          (r"\\(?:cdot|times)", "*"), (r"\\div", "/"), (r"\\pi", "pi"), (r"\\left|\\right|\\[,!;: ]", ""),
          (r"\{", "("), (r"\}", ")")]


class Unsafe(ValueError):
    """The text is not plain arithmetic, or its value is too large to compute."""


def _prepare(text: str) -> str:
    s = text.strip()
    for k, v in _UNICODE.items():
        s = s.replace(k, v)
    for pat, rep in _LATEX:
        s = re.sub(pat, rep, s)
    s = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", s)  # thousands separators
    s = re.sub(r"(?<=\d) (?=\d{3}(?!\d))", "", s)  # "1 000"
    s = re.sub(r"(\d)\s*(pi|sqrt|\()", r"\1*\2", s)  # "2pi", "3sqrt(2)", "2(3)"
    return s


def _digits(x: sympy.Expr) -> float:
    """Upper bound on the number of decimal digits of |x| or 1/|x|; inf when it cannot be bounded."""
    if isinstance(x, sympy.Rational):
        return max(abs(int(x.p)), abs(int(x.q))).bit_length() * 0.30103
    try:
        v = abs(float(sympy.N(x, 15)))
    except (TypeError, ValueError, OverflowError):
        return float("inf")
    if v == 0:
        return 0.0
    return abs(math.log10(v)) if math.isfinite(v) else float("inf")


def parse_arith(text: str) -> sympy.Expr:
    """The value of a plain arithmetic answer as an exact sympy number; raises Unsafe otherwise."""
    if not isinstance(text, str) or len(text) > MAX_CHARS:
        raise Unsafe("too long")
    src = _prepare(text)
    if not src or not re.fullmatch(r"[0-9a-z.+\-*/() ]+", src):
        raise Unsafe("not plain arithmetic")
    try:
        tree = ast.parse(src, mode="eval")
    except (SyntaxError, ValueError):
        raise Unsafe("not plain arithmetic") from None
    return _eval(tree.body, src)


def _eval(node: ast.AST, src: str) -> sympy.Expr:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        # the literal's own text, so "0.1" is exactly 1/10 and long decimals lose nothing
        return sympy.Rational(ast.get_source_segment(src, node))
    if isinstance(node, ast.Name) and node.id in ("pi", "e"):
        return sympy.pi if node.id == "pi" else sympy.E
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _eval(node.operand, src)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "sqrt" \
            and len(node.args) == 1 and not node.keywords:
        return sympy.sqrt(_eval(node.args[0], src))
    if isinstance(node, ast.BinOp):
        a, b = _eval(node.left, src), _eval(node.right, src)
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a - b
        if isinstance(node.op, ast.Mult):
            return a * b
        if isinstance(node.op, ast.Div):
            if b == 0:
                raise Unsafe("division by zero")
            return a / b
        if isinstance(node.op, ast.Pow):
            if not b.is_number or _digits(a) * float(abs(sympy.N(b, 15))) > MAX_DIGITS:
                raise Unsafe("power too large")
            return a ** b
    raise Unsafe(f"unsupported syntax: {type(node).__name__}")
