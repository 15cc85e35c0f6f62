"""Column names as safe identifiers, and formulas printed back with the column names.

Data columns may be called anything: ``a b``, ``E``, ``lambda``, ``<b>x</b>`` or a line of
Python. Inside a formula every column is a sympy symbol named by a *safe identifier*: ASCII
letters, digits and underscores, starting with a letter, and neither a Python keyword or
builtin nor a name sympy's parser already knows (``E``, ``I``, ``S``, ``N``, ``gamma``,
``sin``...). Text written with safe identifiers means the same formula to ``sympy.sympify``
and to :func:`sciml.symbolic.parse.parse_formula`, and running it can execute nothing.

A column whose name is already safe keeps it (``x`` stays ``x``); any other is rewritten
readably and uniquely (``a b`` -> ``a_b``, ``E`` -> ``E_``, ``2x`` -> ``c_2x``). For people,
:func:`display` prints a formula with the original names, quoting in backticks every name that
is not a safe identifier (the convention of pandas' ``DataFrame.query``): ``2*`a b` + x``.
:func:`mathml` and :func:`latex` print the original names escaped for HTML and LaTeX.
"""

from __future__ import annotations

import builtins
import functools
import html
import keyword
import re
from collections.abc import Mapping, Sequence

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.mathml import MathMLPresentationPrinter
from sympy.printing.str import StrPrinter

__all__ = ["display", "is_safe_identifier", "latex", "mathml", "quoted", "safe_identifiers"]

MAX_LENGTH = 40  # rewritten identifiers stay readable; uniqueness suffixes come on top
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


@functools.cache
def _reserved() -> frozenset[str]:
    # everything sympify resolves to an object rather than a new Symbol
    namespace: dict = {}
    exec("from sympy import *", namespace)  # noqa: S102 - a fixed import, no data involved
    return frozenset(namespace) | frozenset(dir(builtins)) | frozenset(keyword.kwlist) | frozenset(
        keyword.softkwlist)


def is_safe_identifier(name: str) -> bool:
    """True when ``name`` can stand for a symbol in text given to ``sympify`` as it is."""
    return bool(_IDENTIFIER.fullmatch(name)) and name not in _reserved()


def _rewrite(name: str) -> str:
    base = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")[:MAX_LENGTH].rstrip("_") or "col"
    if not base[0].isalpha():
        base = f"c_{base}"
    return base if is_safe_identifier(base) else f"{base}_"


def safe_identifiers(names: Sequence[str]) -> dict[str, str]:
    """``{column: identifier}``: safe names kept, others rewritten, all distinct."""
    out = {n: n for n in names if is_safe_identifier(n)}
    taken = set(out.values())
    for n in names:
        if n in out:
            continue
        base = candidate = _rewrite(n)
        k = 2
        while candidate in taken:
            candidate, k = f"{base}_{k}", k + 1
        out[n] = candidate
        taken.add(candidate)
    return {n: out[n] for n in names}


def quoted(column: str) -> str:
    """A column name as it appears in a displayed formula: bare if safe, else in backticks."""
    return column if is_safe_identifier(column) else "`" + column.replace("`", "``") + "`"


DISPLAY_DIGITS = 6  # significant digits of a fitted constant where people read it (the
# `expression` of law.json keeps every digit, for evaluation)


class _DisplayPrinter(StrPrinter):
    def __init__(self, columns: Mapping[str, str]):
        super().__init__()
        self._columns = columns

    def _print_Symbol(self, expr):
        return quoted(self._columns.get(expr.name, expr.name))

    def _print_Float(self, expr):
        return super()._print_Float(sp.Float(expr, DISPLAY_DIGITS))


def display(expr: sp.Expr, columns: Mapping[str, str]) -> str:
    """``expr`` as text with ``columns[identifier]`` for each symbol (see :func:`quoted`)."""
    return _DisplayPrinter(columns).doprint(expr)


class _MathMLPrinter(MathMLPresentationPrinter):
    # sympy writes symbol names into <mi> unescaped (it patches minidom's writer so that
    # entities like &InvisibleTimes; survive), so every name that is not a plain identifier is
    # escaped here and printed whole, without sympy's sub/superscript splitting
    def __init__(self, columns: Mapping[str, str]):
        super().__init__()
        self._columns = columns

    def _print_Symbol(self, sym, style="plain"):
        name = self._columns.get(sym.name, sym.name)
        if _IDENTIFIER.fullmatch(name):  # plain text: sympy's own rendering (gamma -> γ, x_1 -> x₁)
            return super()._print_Symbol(sp.Symbol(name), style)
        mi = self.dom.createElement("mi")
        mi.appendChild(self.dom.createTextNode(html.escape(name, quote=False)))
        return mi

    _print_Dummy = _print_Symbol


def mathml(expr: sp.Expr, columns: Mapping[str, str]) -> str:
    """Presentation MathML of ``expr`` with the column names, escaped."""
    return _MathMLPrinter(columns).doprint(expr)


_LATEX_SPECIAL = {c: "\\" + c for c in "&%$#_{}"} | {"\\": r"\textbackslash{}", "~": r"\textasciitilde{}",
                                                    "^": r"\textasciicircum{}"}


class _LatexPrinter(LatexPrinter):
    def __init__(self, columns: Mapping[str, str]):
        super().__init__()
        self._columns = columns

    def _print_Symbol(self, expr, style="plain"):
        name = self._columns.get(expr.name, expr.name)
        if _IDENTIFIER.fullmatch(name):
            return super()._print_Symbol(sp.Symbol(name), style)
        return r"\text{" + "".join(_LATEX_SPECIAL.get(c, c) for c in name) + "}"

    def _print_Float(self, expr):
        return super()._print_Float(sp.Float(expr, DISPLAY_DIGITS))


def latex(expr: sp.Expr, columns: Mapping[str, str]) -> str:
    """LaTeX of ``expr`` with the column names (escaped, in ``\\text{}``)."""
    return _LatexPrinter(columns).doprint(expr)
