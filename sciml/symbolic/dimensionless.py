"""Buckingham-pi reduction: rewrite ``y = f(x_1..x_n)`` as ``y = s(x) g(pi_1..pi_k)``.

With units on every input and on the target, any dimensionally consistent law can be written
as a *scale* ``s = prod x_i^{p_i}`` carrying the target's dimension times a function of
``k = n - rank`` dimensionless groups ``pi_j = prod x_i^{A_ji}`` (Buckingham 1914). Searching
for ``g`` is a problem in fewer variables, and the groups themselves are the combinations a
search would otherwise have to discover: ``v/c`` in every relativistic factor, ``I2/I1`` in
an interference law. This is the first step of AI Feynman (Udrescu & Tegmark 2020).

The groups are not unique; among all choices of pivot variables we take the one whose groups
and scale use the fewest variables and the smallest exponents, which is what a physicist
writes (``v/c``, not ``v^2 c^-2``).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from fractions import Fraction

import numpy as np
import sympy as sp

__all__ = ["Reduction", "reduce_dimensions"]


@dataclasses.dataclass(frozen=True)
class Reduction:
    """``y = scale * g(groups)``: exponents over the input variables, in input order."""

    names: tuple[str, ...]
    scale: tuple[Fraction, ...]
    groups: tuple[tuple[Fraction, ...], ...]

    def _expr(self, exps, symbols):
        return sp.Mul(*[s ** sp.Rational(e.numerator, e.denominator) for s, e in zip(symbols, exps) if e])

    def scale_expr(self, symbols) -> sp.Expr:
        return self._expr(self.scale, symbols)

    def group_exprs(self, symbols) -> list[sp.Expr]:
        return [self._expr(g, symbols) for g in self.groups]

    @staticmethod
    def _values(exps, X):
        with np.errstate(all="ignore"):
            return np.prod([X[:, i] ** float(e) for i, e in enumerate(exps) if e], axis=0) * np.ones(len(X))

    def scale_values(self, X) -> np.ndarray:
        return self._values(self.scale, X)

    def group_values(self, X) -> np.ndarray:
        return np.stack([self._values(g, X) for g in self.groups], axis=1) if self.groups else np.zeros((len(X), 0))

    def oriented(self, X) -> "Reduction":
        """The same reduction with every ratio group that exceeds one on all samples inverted.

        A group and its inverse are equally valid; small parameters are the physicist's
        convention (``v/c``, not ``c/v``) and keep relativistic factors ``1 - (v/c)^2`` in the
        domain of the search's primitives. A group that is one input as given (an angle, a
        count, a refractive index) is left alone.
        """
        groups = []
        for g in self.groups:
            with np.errstate(all="ignore"):
                big = sum(1 for e in g if e) > 1 and bool(np.all(np.abs(self._values(g, X)) > 1.0))
            groups.append(tuple(-e for e in g) if big else g)
        return dataclasses.replace(self, groups=tuple(groups))


def _matrix(names, units, dims):
    return sp.Matrix([[sp.Rational(str(Fraction(units.get(n, {}).get(d, 0)))) for n in names] for d in dims])


def _integer(v):
    """Rational vector -> smallest integer multiple, first nonzero entry positive."""
    den = math.lcm(*[int(sp.fraction(x)[1]) for x in v])
    ints = [int(x * den) for x in v]
    g = math.gcd(*ints) or 1
    ints = [i // g for i in ints]
    first = next((i for i in ints if i), 1)
    return [Fraction(i * (1 if first > 0 else -1)) for i in ints]


def _solve(P, v):
    """``P q = v`` for a full-column-rank ``P`` (exact when ``v`` is in its span)."""
    return P.solve_least_squares(v) if P.rows > P.cols else P.solve(v)


def reduce_dimensions(names: list[str], units: dict, target_units: dict) -> Reduction | None:
    """The simplest pi reduction of ``names`` for a target of ``target_units``.

    Returns ``None`` when an input has no units entry or the target's dimension is not a
    product of powers of the inputs' (no consistent law exists, so nothing is reduced).
    """
    if any(n not in units for n in names):
        return None
    dims = sorted({d for n in names for d, e in units[n].items() if e} | {d for d, e in target_units.items() if e})
    n = len(names)
    D = _matrix(names, units, dims)
    b = sp.Matrix([sp.Rational(str(Fraction(target_units.get(d, 0)))) for d in dims])
    rank = D.rank() if dims else 0
    if rank == 0:  # every input dimensionless: only a dimensionless target has a law
        if any(target_units.get(d, 0) for d in dims):
            return None
        unit = [tuple(Fraction(int(i == j)) for i in range(n)) for j in range(n)]
        return Reduction(tuple(names), tuple(Fraction(0) for _ in range(n)), tuple(unit))
    best = None
    for pivots in itertools.combinations(range(n), rank):
        P = D[:, list(pivots)]
        if P.rank() < rank:
            continue
        try:
            # scale: target dimension from the pivot variables only
            sol = _solve(P, b)
        except (ValueError, sp.matrices.exceptions.NonInvertibleMatrixError):
            continue
        if P * sol != b:
            return None  # the target's dimension is out of the inputs' span
        scale = [Fraction(0)] * n
        for k, i in enumerate(pivots):
            scale[i] = Fraction(int(sp.fraction(sol[k])[0]), int(sp.fraction(sol[k])[1]))
        groups = []
        for j in (j for j in range(n) if j not in pivots):
            q = _solve(P, D[:, j])
            v = [sp.Integer(0)] * n
            v[j] = sp.Integer(1)
            for k, i in enumerate(pivots):
                v[i] = -q[k]
            groups.append(_integer(v))
        cost = sum(1 for e in scale if e) + sum(abs(e) for e in scale) + \
            sum(sum(1 for e in g if e) + sum(abs(e) for e in g) for g in groups)
        if best is None or cost < best[0]:
            best = (cost, tuple(scale), tuple(tuple(g) for g in groups))
    if best is None:
        return None
    return Reduction(tuple(names), best[1], best[2])
