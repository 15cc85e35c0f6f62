"""Feynman-equation datasets: 30 laws with 1–4 variables from the AI Feynman benchmark.

Equations and sampling ranges follow the public AI Feynman list (Udrescu & Tegmark, *AI
Feynman: a physics-inspired method for symbolic regression*, Sci. Adv. 6, eaay2631 (2020);
``FeynmanEquations.csv``). The selection keeps every listed equation with at most four
variables that we use, including the ones that are *not* separable (relativistic factors,
velocity addition, interference), so the set is not tailored to any one method.

Data are generated on demand, deterministically from a seed::

    from sciml.datasets.feynman import EQUATIONS, generate
    ds = generate("I.12.2", n=1000, noise=0.01, seed=0)   # xarray.Dataset, inputs + target

Noise model: ``y_noisy = y + noise * rms(y) * N(0, 1)`` (the SRBench convention), so
``noise=0.01`` is 1% of the target's root mean square.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import sympy as sp

__all__ = ["Equation", "EQUATIONS", "UNITS", "generate", "get", "truth", "units"]


@dataclasses.dataclass(frozen=True)
class Equation:
    id: str
    target: str
    formula: str  # sympy-parsable, variables as below
    ranges: dict  # variable -> (low, high), uniform sampling

    @property
    def variables(self) -> list[str]:
        return list(self.ranges)


def _eq(id, target, formula, **ranges):
    return Equation(id, target, formula, {k: tuple(v) for k, v in ranges.items()})


R15 = (1.0, 5.0)
EQUATIONS: list[Equation] = [
    _eq("I.6.2a", "f", "exp(-theta**2/2)/sqrt(2*pi)", theta=(1, 3)),
    _eq("I.6.2", "f", "exp(-(theta/sigma)**2/2)/(sqrt(2*pi)*sigma)", sigma=(1, 3), theta=(1, 3)),
    _eq("I.6.2b", "f", "exp(-((theta-theta1)/sigma)**2/2)/(sqrt(2*pi)*sigma)",
        sigma=(1, 3), theta=(1, 3), theta1=(1, 3)),
    _eq("I.8.14", "d", "sqrt((x2-x1)**2+(y2-y1)**2)", x1=R15, x2=R15, y1=R15, y2=R15),
    _eq("I.10.7", "m", "m_0/sqrt(1-v**2/c**2)", m_0=R15, v=(1, 2), c=(3, 10)),
    _eq("I.12.1", "F", "mu*Nn", mu=R15, Nn=R15),
    _eq("I.12.2", "F", "q1*q2/(4*pi*epsilon*r**2)", q1=R15, q2=R15, epsilon=R15, r=R15),
    _eq("I.12.4", "Ef", "q1/(4*pi*epsilon*r**2)", q1=R15, epsilon=R15, r=R15),
    _eq("I.12.5", "F", "q2*Ef", q2=R15, Ef=R15),
    _eq("I.13.4", "K", "m*(v**2+u**2+w**2)/2", m=R15, v=R15, u=R15, w=R15),
    _eq("I.14.3", "U", "m*g*z", m=R15, g=R15, z=R15),
    _eq("I.14.4", "U", "k_spring*x**2/2", k_spring=R15, x=R15),
    _eq("I.15.3t", "t1", "(t-u*x/c**2)/sqrt(1-u**2/c**2)", x=R15, c=(3, 10), u=(1, 2), t=(1, 2)),
    _eq("I.15.10", "p", "m_0*v/sqrt(1-v**2/c**2)", m_0=R15, v=(1, 2), c=(3, 10)),
    _eq("I.16.6", "v1", "(u+v)/(1+u*v/c**2)", c=R15, v=R15, u=R15),
    _eq("I.18.4", "r", "(m1*r1+m2*r2)/(m1+m2)", m1=R15, m2=R15, r1=R15, r2=R15),
    _eq("I.18.12", "tau", "r*F*sin(theta)", r=R15, F=R15, theta=(0, 5)),
    _eq("I.24.6", "E", "m*(omega**2+omega_0**2)*x**2/4", m=R15, omega=R15, omega_0=R15, x=R15),
    _eq("I.25.13", "Volt", "q/C", q=R15, C=R15),
    _eq("I.26.2", "theta1", "asin(n*sin(theta2))", n=(0, 1), theta2=(1, 5)),
    _eq("I.27.6", "foc", "1/(1/d1+n/d2)", d1=R15, d2=R15, n=R15),
    _eq("I.29.4", "k", "omega/c", omega=R15, c=R15),
    _eq("I.30.3", "Int", "Int_0*sin(n*theta/2)**2/sin(theta/2)**2", Int_0=R15, theta=R15, n=R15),
    _eq("I.32.5", "Pwr", "q**2*a**2/(6*pi*epsilon*c**3)", q=R15, a=R15, epsilon=R15, c=R15),
    _eq("I.34.8", "omega", "q*v*B/p", q=R15, v=R15, B=R15, p=R15),
    _eq("I.37.4", "Int", "I1+I2+2*sqrt(I1*I2)*cos(delta)", I1=R15, I2=R15, delta=R15),
    _eq("I.39.11", "E", "pF*V/(gamma-1)", gamma=(2, 5), pF=R15, V=R15),
    _eq("I.47.23", "c", "sqrt(gamma*pr/rho)", gamma=R15, pr=R15, rho=R15),
    _eq("II.3.24", "flux", "Pwr/(4*pi*r**2)", Pwr=R15, r=R15),
    _eq("II.11.28", "theta", "1+n*alpha/(1-(n*alpha/3))", n=(0, 1), alpha=(0, 1)),
]

# Units of every variable in the base dimensions of the AI Feynman units table (metre,
# second, kilogram, kelvin, volt): charge is energy per volt, kg m^2 s^-2 V^-1.
_M, _S, _KG, _V = "m", "s", "kg", "V"
_ONE: dict = {}
_LENGTH = {_M: 1}
_TIME = {_S: 1}
_MASS = {_KG: 1}
_SPEED = {_M: 1, _S: -1}
_RATE = {_S: -1}
_FORCE = {_KG: 1, _M: 1, _S: -2}
_ENERGY = {_KG: 1, _M: 2, _S: -2}
_POWER = {_KG: 1, _M: 2, _S: -3}
_INTENSITY = {_KG: 1, _S: -3}  # power per area
_PRESSURE = {_KG: 1, _M: -1, _S: -2}
_CHARGE = {_KG: 1, _M: 2, _S: -2, _V: -1}
_PERMITTIVITY = {_KG: 1, _M: 1, _S: -2, _V: -2}  # charge / (volt metre)
_CAPACITANCE = {_KG: 1, _M: 2, _S: -2, _V: -2}
_FIELD = {_V: 1, _M: -1}
_MAGNETIC = {_V: 1, _S: 1, _M: -2}

UNITS: dict[str, dict[str, dict]] = {
    "I.6.2a": {"f": _ONE, "theta": _ONE},
    "I.6.2": {"f": _ONE, "sigma": _ONE, "theta": _ONE},
    "I.6.2b": {"f": _ONE, "sigma": _ONE, "theta": _ONE, "theta1": _ONE},
    "I.8.14": {"d": _LENGTH, "x1": _LENGTH, "x2": _LENGTH, "y1": _LENGTH, "y2": _LENGTH},
    "I.10.7": {"m": _MASS, "m_0": _MASS, "v": _SPEED, "c": _SPEED},
    "I.12.1": {"F": _FORCE, "mu": _ONE, "Nn": _FORCE},
    "I.12.2": {"F": _FORCE, "q1": _CHARGE, "q2": _CHARGE, "epsilon": _PERMITTIVITY, "r": _LENGTH},
    "I.12.4": {"Ef": _FIELD, "q1": _CHARGE, "epsilon": _PERMITTIVITY, "r": _LENGTH},
    "I.12.5": {"F": _FORCE, "q2": _CHARGE, "Ef": _FIELD},
    "I.13.4": {"K": _ENERGY, "m": _MASS, "v": _SPEED, "u": _SPEED, "w": _SPEED},
    "I.14.3": {"U": _ENERGY, "m": _MASS, "g": {_M: 1, _S: -2}, "z": _LENGTH},
    "I.14.4": {"U": _ENERGY, "k_spring": {_KG: 1, _S: -2}, "x": _LENGTH},
    "I.15.3t": {"t1": _TIME, "x": _LENGTH, "c": _SPEED, "u": _SPEED, "t": _TIME},
    "I.15.10": {"p": {_KG: 1, _M: 1, _S: -1}, "m_0": _MASS, "v": _SPEED, "c": _SPEED},
    "I.16.6": {"v1": _SPEED, "c": _SPEED, "v": _SPEED, "u": _SPEED},
    "I.18.4": {"r": _LENGTH, "m1": _MASS, "m2": _MASS, "r1": _LENGTH, "r2": _LENGTH},
    "I.18.12": {"tau": _ENERGY, "r": _LENGTH, "F": _FORCE, "theta": _ONE},
    "I.24.6": {"E": _ENERGY, "m": _MASS, "omega": _RATE, "omega_0": _RATE, "x": _LENGTH},
    "I.25.13": {"Volt": {_V: 1}, "q": _CHARGE, "C": _CAPACITANCE},
    "I.26.2": {"theta1": _ONE, "n": _ONE, "theta2": _ONE},
    "I.27.6": {"foc": _LENGTH, "d1": _LENGTH, "d2": _LENGTH, "n": _ONE},
    "I.29.4": {"k": {_M: -1}, "omega": _RATE, "c": _SPEED},
    "I.30.3": {"Int": _INTENSITY, "Int_0": _INTENSITY, "theta": _ONE, "n": _ONE},
    "I.32.5": {"Pwr": _POWER, "q": _CHARGE, "a": {_M: 1, _S: -2}, "epsilon": _PERMITTIVITY, "c": _SPEED},
    "I.34.8": {"omega": _RATE, "q": _CHARGE, "v": _SPEED, "B": _MAGNETIC, "p": {_KG: 1, _M: 1, _S: -1}},
    "I.37.4": {"Int": _INTENSITY, "I1": _INTENSITY, "I2": _INTENSITY, "delta": _ONE},
    "I.39.11": {"E": _ENERGY, "gamma": _ONE, "pF": _PRESSURE, "V": {_M: 3}},
    "I.47.23": {"c": _SPEED, "gamma": _ONE, "pr": _PRESSURE, "rho": {_KG: 1, _M: -3}},
    "II.3.24": {"flux": _INTENSITY, "Pwr": _POWER, "r": _LENGTH},
    "II.11.28": {"theta": _ONE, "n": _ONE, "alpha": _ONE},
}

_BY_ID = {e.id: e for e in EQUATIONS}


def units(eq: Equation | str) -> dict[str, dict]:
    """``{variable: {dimension: exponent}}`` for the inputs and the target of ``eq``."""
    eq = get(eq) if isinstance(eq, str) else eq
    return UNITS[eq.id]


def get(eq_id: str) -> Equation:
    try:
        return _BY_ID[eq_id]
    except KeyError:
        raise KeyError(f"no Feynman equation {eq_id!r}; available: {list(_BY_ID)}") from None


def truth(eq: Equation | str) -> tuple[sp.Expr, list[sp.Symbol]]:
    """The exact law as sympy, with positive symbols where the range is positive."""
    eq = get(eq) if isinstance(eq, str) else eq
    syms = [sp.Symbol(v, positive=True) if lo > 0 else sp.Symbol(v, real=True)
            for v, (lo, hi) in eq.ranges.items()]
    expr = sp.sympify(eq.formula, locals={str(s): s for s in syms})
    return expr, syms


def sample_inputs(eq: Equation, n: int, rng: np.random.Generator) -> np.ndarray:
    lo = np.array([r[0] for r in eq.ranges.values()], float)
    hi = np.array([r[1] for r in eq.ranges.values()], float)
    return rng.uniform(lo, hi, (n, len(lo)))


def evaluate(eq: Equation, X: np.ndarray) -> np.ndarray:
    expr, syms = truth(eq)
    f = sp.lambdify(syms, expr, "numpy")
    return np.broadcast_to(np.asarray(f(*X.T), float), (len(X),)).copy()


def generate(eq: Equation | str, n: int = 1000, noise: float = 0.0, seed: int = 0):
    """``n`` samples of one equation as an :class:`xarray.Dataset` (inputs and target)."""
    import xarray as xr

    eq = get(eq) if isinstance(eq, str) else eq
    if n < 10:
        raise ValueError(f"n must be >= 10, got {n}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0 (a fraction of rms(y)), got {noise}")
    rng = np.random.default_rng(seed)
    X = sample_inputs(eq, n, rng)
    y = evaluate(eq, X)
    if noise:
        y = y + noise * np.sqrt(np.mean(y**2)) * rng.normal(size=n)
    data = {v: ("sample", X[:, i]) for i, v in enumerate(eq.variables)}
    data[eq.target] = ("sample", y)
    return xr.Dataset(data, coords={"sample": np.arange(n)},
                      attrs={"equation": eq.id, "formula": f"{eq.target} = {eq.formula}",
                             "noise": noise, "seed": seed,
                             "source": "AI Feynman (Udrescu & Tegmark 2020)"})
