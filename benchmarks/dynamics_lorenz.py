"""Lorenz coefficients from clean data by sparse regression, beside PySINDy when installed.

Data: one Lorenz trajectory (sigma=10, rho=28, beta=8/3) from u0 = (-8, 8, 27), dt = 0.002
on [0, 10], integrated with diffrax Dopri8 at rtol = atol = 1e-10 — the PySINDy tutorial
setting. Derivatives come from the data by fourth-order finite differences (never from the
known right-hand side). Library: monomials up to degree 2; STLSQ threshold 0.5 (ours and
PySINDy's ``STLSQ(threshold=0.5)`` with ``FiniteDifference`` derivatives).

Target: every coefficient within 1% and no spurious term (PySINDy: ~2e-4 relative).

    python benchmarks/dynamics_lorenz.py      # writes benchmarks/results/dynamics_lorenz.json
"""

from __future__ import annotations

import json
import os
import pathlib
import platform
import time

import numpy as np
import sympy as sp

from sciml.datasets.dynamics import lorenz
from sciml.symbolic.sparse import finite_difference, sparse_fit

x, y, z = sp.symbols("x y z")
TRUE = [10 * y - 10 * x, 28 * x - x * z - y, x * y - sp.Rational(8, 3) * z]


def score(exprs) -> dict:
    worst, spurious = 0.0, 0
    for got, want in zip(exprs, TRUE):
        g = sp.Poly(sp.expand(got), x, y, z).as_dict()
        w = sp.Poly(want, x, y, z).as_dict()
        spurious += len(set(g) - set(w))
        for k, c in w.items():
            worst = max(worst, abs(float(g.get(k, 0.0)) / float(c) - 1))
    return {"max_relative_coefficient_error": worst, "spurious_terms": spurious, "expressions": [str(e) for e in exprs]}


def main() -> dict:
    ds = lorenz()
    t = ds.time.values
    X = np.stack([ds[k].values[0] for k in "xyz"], -1)
    t0 = time.perf_counter()
    dX = finite_difference(t, X)
    ours = sparse_fit(X, dX, [x, y, z], degree=2, threshold=0.5)
    res = {"sciml": score(ours) | {"wall_s": time.perf_counter() - t0}}
    print(f"sciml STLSQ: max rel. coefficient error {res['sciml']['max_relative_coefficient_error']:.2e}, "
          f"spurious {res['sciml']['spurious_terms']}")
    try:
        import pysindy as ps

        t0 = time.perf_counter()
        model = ps.SINDy(optimizer=ps.STLSQ(threshold=0.5), feature_library=ps.PolynomialLibrary(degree=2),
                         differentiation_method=ps.FiniteDifference())
        model.fit(X, t=t[1] - t[0])
        names = model.get_feature_names()
        terms = [sp.sympify(n.replace(" ", "*").replace("^", "**"), locals={"x0": x, "x1": y, "x2": z}) for n in names]
        coefs = model.coefficients()
        theirs = [sum(float(c) * tm for c, tm in zip(row, terms) if c != 0) for row in coefs]
        res["pysindy"] = score(theirs) | {"wall_s": time.perf_counter() - t0, "version": ps.__version__}
        print(f"PySINDy:     max rel. coefficient error {res['pysindy']['max_relative_coefficient_error']:.2e}, "
              f"spurious {res['pysindy']['spurious_terms']}")
    except ImportError:
        res["pysindy"] = None
        print("PySINDy not installed: skipped")
    res["target"] = "coefficients within 1%, no spurious terms"
    res["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(), "load_avg": os.getloadavg()}
    out = pathlib.Path(__file__).parent / "results" / "dynamics_lorenz.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
