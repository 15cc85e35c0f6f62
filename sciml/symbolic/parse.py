"""Formulas read back from text without evaluating the text.

``sympy.sympify`` evaluates its input as Python; a formula read from a file (``law.json``) or
returned by an external search backend must not get that power. :func:`parse_formula` accepts
only numbers, the recorded symbols, a whitelist of functions and constants, and the arithmetic
operators ``+ - * / **`` (``^`` is read as ``**``, as ``sympify`` and several search
backends write it). The text is checked token by token (:mod:`tokenize`), then its syntax
tree (:mod:`ast`) is walked and the sympy expression built node by node, so nothing in the text
is ever executed, and attribute access, subscripts, keywords, strings and lambdas are refused.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Callable, Mapping

import sympy as sp

__all__ = ["FormulaError", "FUNCTIONS", "CONSTANTS", "parse_formula"]

FUNCTIONS: dict[str, Callable] = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "cot": sp.cot, "sec": sp.sec, "csc": sp.csc,
    "asin": sp.asin, "acos": sp.acos, "atan": sp.atan, "atan2": sp.atan2, "acot": sp.acot,
    "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh, "asinh": sp.asinh, "acosh": sp.acosh,
    "atanh": sp.atanh, "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "cbrt": sp.cbrt,
    "Abs": sp.Abs, "abs": sp.Abs, "sign": sp.sign, "Max": sp.Max, "Min": sp.Min,
    "floor": sp.floor, "ceiling": sp.ceiling, "erf": sp.erf, "erfc": sp.erfc, "gamma": sp.gamma,
    "Heaviside": sp.Heaviside,
}
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "E": sp.E, "I": sp.I, "oo": sp.oo, "zoo": sp.zoo,
                                 "nan": sp.nan}

MAX_LENGTH = 100_000  # characters: formulas are short; refuse pathological input early
MAX_EXPONENT = 1000  # an integer power of an integer is computed exactly: 9**9**9 never ends
_OPERATORS = {"+", "-", "*", "/", "**", "(", ")", ","}
_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: _power(a, b)}
_IGNORED_TOKENS = {tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT,
                   tokenize.DEDENT}


class FormulaError(ValueError):
    """The text is not a formula in the allowed vocabulary (the message names the culprit)."""


def parse_formula(text: str, symbols: Mapping[str, sp.Symbol], *,
                  functions: Mapping[str, Callable] | None = None) -> sp.Expr:
    """The sympy expression written in ``text``, built without evaluating ``text``.

    Args:
        text: e.g. ``"2*x + sin(pi*y)**2"``.
        symbols: identifier -> symbol; the only names besides functions and constants.
        functions: identifier -> sympy function (default :data:`FUNCTIONS`).

    Raises:
        FormulaError: a name, token or construct outside the vocabulary above.
    """
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be text, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise FormulaError(f"formula of {len(text)} characters; at most {MAX_LENGTH} are read")
    functions = FUNCTIONS if functions is None else functions
    names = {**CONSTANTS, **symbols}
    source = _checked_source(text, set(names) | set(functions))
    try:
        tree = ast.parse(source.strip() or "0", mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        raise FormulaError(f"cannot read the formula {_short(text)}: {e}") from None
    try:
        return _build(tree.body, names, functions)
    except FormulaError:
        raise
    except RecursionError:
        raise FormulaError(f"the formula {_short(text)} is nested too deeply") from None
    except (TypeError, ValueError, ArithmeticError) as e:
        raise FormulaError(f"cannot build the formula {_short(text)}: {e}") from None


def _short(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _checked_source(text: str, allowed_names: set[str]) -> str:
    """The text with every token checked and ``^`` written ``**``."""
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type in _IGNORED_TOKENS:
                continue
            if tok.type == tokenize.NAME and tok.string not in allowed_names:
                raise FormulaError(f"unknown name {tok.string!r} in the formula {_short(text)}: "
                                   "a formula may use only its recorded symbols, numbers, "
                                   "constants (pi, E) and functions such as sin, exp, log, sqrt")
            if tok.type == tokenize.OP:
                op = "**" if tok.string == "^" else tok.string
                if op not in _OPERATORS:
                    raise FormulaError(f"operator {tok.string!r} not allowed in the formula "
                                       f"{_short(text)}; only + - * / ** ( ) and , are")
                out.append(op)
                continue
            if tok.type not in (tokenize.NAME, tokenize.NUMBER):
                raise FormulaError(f"{tok.string!r} not allowed in the formula {_short(text)}: "
                                   "only numbers, names and arithmetic operators are")
            out.append(tok.string)
    except (tokenize.TokenError, SyntaxError, IndentationError) as e:
        raise FormulaError(f"cannot read the formula {_short(text)}: {e}") from None
    return " ".join(out)


def _build(node: ast.AST, names: Mapping[str, sp.Expr], functions: Mapping[str, Callable]) -> sp.Expr:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return sp.Integer(node.value) if isinstance(node.value, int) else sp.Float(node.value)
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _build(node.operand, names, functions)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_build(node.left, names, functions),
                                      _build(node.right, names, functions))
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions
            and not node.keywords and not any(isinstance(a, ast.Starred) for a in node.args)):
        return functions[node.func.id](*[_build(a, names, functions) for a in node.args])
    raise FormulaError(f"{ast.dump(node)[:60]} is not an arithmetic formula element")


def _power(base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
    if (exponent.is_Number and abs(exponent) > MAX_EXPONENT and base.is_Number
            and abs(base) not in (0, 1)):
        raise FormulaError(f"the power {base}**{exponent} is too large to compute exactly")
    return base**exponent
