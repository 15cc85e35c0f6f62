"""Feynman-equation datasets from the AI Feynman benchmark: 30 laws with 1–4 variables and
units (``EQUATIONS``), and a second set of the other 62 laws with at most five variables
(``SECOND_SET``, no units table).

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

__all__ = ["Equation", "EQUATIONS", "SECOND_SET", "UNITS", "generate", "get", "truth", "units"]


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

# The second set: every other equation of the AI Feynman list with at most five variables (62),
# same ranges as ``FeynmanEquations.csv``. It has no units table: it measures recovery without
# units on laws no part of sciml was developed against.
R13 = (1.0, 3.0)
SECOND_SET: list[Equation] = [
    _eq("I.12.11", "F", "q*(Ef+B*v*sin(theta))", q=R15, Ef=R15, B=R15, v=R15, theta=R15),
    _eq("I.13.12", "U", "G*m1*m2*(1/r2-1/r1)", m1=R15, m2=R15, r1=R15, r2=R15, G=R15),
    _eq("I.15.3x", "x1", "(x-u*t)/sqrt(1-u**2/c**2)", x=(5, 10), u=(1, 2), c=(3, 20), t=(1, 2)),
    _eq("I.18.14", "L", "m*r*v*sin(theta)", m=R15, r=R15, v=R15, theta=R15),
    _eq("I.29.16", "x", "sqrt(x1**2+x2**2-2*x1*x2*cos(theta1-theta2))", x1=R15, x2=R15, theta1=R15,
        theta2=R15),
    _eq("I.30.5", "theta", "asin(lambd/(n*d))", lambd=(1, 2), d=(2, 5), n=R15),
    _eq("I.34.1", "omega", "omega_0/(1-v/c)", c=(3, 10), v=(1, 2), omega_0=R15),
    _eq("I.34.14", "omega", "(1+v/c)/sqrt(1-v**2/c**2)*omega_0", c=(3, 10), v=(1, 2), omega_0=R15),
    _eq("I.34.27", "E_n", "(h/(2*pi))*omega", omega=R15, h=R15),
    _eq("I.38.12", "r", "4*pi*epsilon*(h/(2*pi))**2/(m*q**2)", m=R15, q=R15, h=R15, epsilon=R15),
    _eq("I.39.1", "E_n", "3*pr*V/2", pr=R15, V=R15),
    _eq("I.39.22", "pr", "n*kb*T/V", n=R15, T=R15, V=R15, kb=R15),
    _eq("I.41.16", "L_rad", "h/(2*pi)*omega**3/(pi**2*c**2*(exp((h/(2*pi))*omega/(kb*T))-1))",
        omega=R15, T=R15, h=R15, kb=R15, c=R15),
    _eq("I.43.16", "v", "mu_drift*q*Volt/d", mu_drift=R15, q=R15, Volt=R15, d=R15),
    _eq("I.43.31", "D", "mob*kb*T", mob=R15, T=R15, kb=R15),
    _eq("I.43.43", "kappa", "kb*v/(A*(gamma-1))", gamma=(2, 5), kb=R15, A=R15, v=R15),
    _eq("I.44.4", "E_n", "n*kb*T*log(V2/V1)", n=R15, kb=R15, T=R15, V1=R15, V2=R15),
    _eq("I.48.2", "E_n", "m*c**2/sqrt(1-v**2/c**2)", m=R15, v=(1, 2), c=(3, 10)),
    _eq("I.50.26", "x", "x1*(cos(omega*t)+alpha*cos(omega*t)**2)", x1=R13, omega=R13, t=R13, alpha=R13),
    _eq("II.2.42", "Pwr", "kappa*(T2-T1)*A/d", kappa=R15, T1=R15, T2=R15, A=R15, d=R15),
    _eq("II.4.23", "Volt", "q/(4*pi*epsilon*r)", q=R15, epsilon=R15, r=R15),
    _eq("II.6.11", "Volt", "p_d*cos(theta)/(4*pi*epsilon*r**2)", epsilon=R13, p_d=R13, theta=R13, r=R13),
    _eq("II.6.15b", "Ef", "3*p_d*cos(theta)*sin(theta)/(4*pi*epsilon*r**3)", epsilon=R13, p_d=R13,
        theta=R13, r=R13),
    _eq("II.8.7", "E_n", "3*q**2/(20*pi*epsilon*d)", q=R15, epsilon=R15, d=R15),
    _eq("II.8.31", "E_den", "epsilon*Ef**2/2", epsilon=R15, Ef=R15),
    _eq("II.10.9", "Ef", "sigma_den/(epsilon*(1+chi))", sigma_den=R15, epsilon=R15, chi=R15),
    _eq("II.11.3", "x", "q*Ef/(m*(omega_0**2-omega**2))", q=R13, Ef=R13, m=R13, omega_0=(3, 5),
        omega=(1, 2)),
    _eq("II.11.20", "Pol", "n_rho*p_d**2*Ef/(3*kb*T)", n_rho=R15, p_d=R15, Ef=R15, kb=R15, T=R15),
    _eq("II.11.27", "Pol", "n*alpha/(1-(n*alpha/3))*epsilon*Ef", n=(0, 1), alpha=(0, 1),
        epsilon=(1, 2), Ef=(1, 2)),
    _eq("II.13.17", "B", "2*I/(4*pi*epsilon*c**2*r)", epsilon=R15, c=R15, I=R15, r=R15),
    _eq("II.13.23", "rho_c", "rho_c_0/sqrt(1-v**2/c**2)", rho_c_0=R15, v=(1, 2), c=(3, 10)),
    _eq("II.13.34", "j", "rho_c_0*v/sqrt(1-v**2/c**2)", rho_c_0=R15, v=(1, 2), c=(3, 10)),
    _eq("II.15.4", "E_n", "-mom*B*cos(theta)", mom=R15, B=R15, theta=R15),
    _eq("II.15.5", "E_n", "-p_d*Ef*cos(theta)", p_d=R15, Ef=R15, theta=R15),
    _eq("II.21.32", "Volt", "q/(4*pi*epsilon*r*(1-v/c))", q=R15, epsilon=R15, r=R15, v=(1, 2), c=(3, 10)),
    _eq("II.24.17", "k", "sqrt(omega**2/c**2-pi**2/d**2)", omega=(4, 6), c=(1, 2), d=(2, 4)),
    _eq("II.27.16", "flux", "epsilon*c*Ef**2", epsilon=R15, c=R15, Ef=R15),
    _eq("II.27.18", "E_den", "epsilon*Ef**2", epsilon=R15, Ef=R15),
    _eq("II.34.2a", "I", "q*v/(2*pi*r)", q=R15, v=R15, r=R15),
    _eq("II.34.2", "mom", "q*v*r/2", q=R15, v=R15, r=R15),
    _eq("II.34.11", "omega", "g_*q*B/(2*m)", g_=R15, q=R15, B=R15, m=R15),
    _eq("II.34.29a", "mom", "q*h/(4*pi*m)", q=R15, h=R15, m=R15),
    _eq("II.34.29b", "E_n", "g_*mom*B*Jz/(h/(2*pi))", g_=R15, h=R15, Jz=R15, mom=R15, B=R15),
    _eq("II.35.18", "n", "n_0/(exp(mom*B/(kb*T))+exp(-mom*B/(kb*T)))", n_0=R13, kb=R13, T=R13, mom=R13,
        B=R13),
    _eq("II.35.21", "M", "n_rho*mom*tanh(mom*B/(kb*T))", n_rho=R15, mom=R15, B=R15, kb=R15, T=R15),
    _eq("II.37.1", "E_n", "mom*(1+chi)*B", mom=R15, B=R15, chi=R15),
    _eq("II.38.3", "F", "Y*A*x/d", Y=R15, A=R15, d=R15, x=R15),
    _eq("II.38.14", "mu_S", "Y/(2*(1+sigma))", Y=R15, sigma=R15),
    _eq("III.4.32", "n", "1/(exp((h/(2*pi))*omega/(kb*T))-1)", h=R15, omega=R15, kb=R15, T=R15),
    _eq("III.4.33", "E_n", "(h/(2*pi))*omega/(exp((h/(2*pi))*omega/(kb*T))-1)", h=R15, omega=R15,
        kb=R15, T=R15),
    _eq("III.7.38", "omega", "2*mom*B/(h/(2*pi))", mom=R15, B=R15, h=R15),
    _eq("III.8.54", "prob", "sin(E_n*t/(h/(2*pi)))**2", E_n=(1, 2), t=(1, 2), h=(1, 4)),
    _eq("III.10.19", "E_n", "mom*sqrt(Bx**2+By**2+Bz**2)", mom=R15, Bx=R15, By=R15, Bz=R15),
    _eq("III.12.43", "L", "n*(h/(2*pi))", n=R15, h=R15),
    _eq("III.13.18", "v", "2*E_n*d**2*k/(h/(2*pi))", E_n=R15, d=R15, k=R15, h=R15),
    _eq("III.14.14", "I", "I_0*(exp(q*Volt/(kb*T))-1)", I_0=R15, q=(1, 2), Volt=(1, 2), kb=(1, 2),
        T=(1, 2)),
    _eq("III.15.12", "E_n", "2*U*(1-cos(k*d))", U=R15, k=R15, d=R15),
    _eq("III.15.14", "m", "(h/(2*pi))**2/(2*E_n*d**2)", h=R15, E_n=R15, d=R15),
    _eq("III.15.27", "k", "2*pi*alpha/(n*d)", alpha=R15, n=R15, d=R15),
    _eq("III.17.37", "f", "beta*(1+alpha*cos(theta))", beta=R15, alpha=R15, theta=R15),
    _eq("III.19.51", "E_n", "-m*q**4/(2*(4*pi*epsilon)**2*(h/(2*pi))**2*n**2)", m=R15, q=R15, h=R15,
        n=R15, epsilon=R15),
    _eq("III.21.20", "j", "-rho_c_0*q*A_vec/m", rho_c_0=R15, q=R15, A_vec=R15, m=R15),
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

_BY_ID = {e.id: e for e in EQUATIONS + SECOND_SET}


def units(eq: Equation | str) -> dict[str, dict]:
    """``{variable: {dimension: exponent}}`` for the inputs and the target of ``eq``."""
    eq = get(eq) if isinstance(eq, str) else eq
    if eq.id not in UNITS:
        raise KeyError(f"no units table for Feynman equation {eq.id!r} (the second set has none)")
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
