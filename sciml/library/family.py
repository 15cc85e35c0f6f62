r"""A family of small dynamical systems for discovering primitives on some and reusing them on others.

Ten planar vector fields :math:`f: \mathbb{R}^2 \to \mathbb{R}^2`, each with a distinctive
nonlinearity. Five are *discovery* tasks (a KAN is fitted to their samples and its edges are
harvested into a library, :func:`discover_library`); five are *held out*: networks that reuse
the library are compared there with fixed and learnable activations. The held-out tasks share
nonlinearity families with the discovery tasks (trigonometric, polynomial, exponential,
saturating) without repeating any system.

Each task gives samples ``(x, f(x))`` on its box (:meth:`VectorFieldTask.sample`) and
trajectories integrated with the project's Dopri8 integrator
(:func:`sciml.dynamics.node.integrate_exact`, :meth:`VectorFieldTask.trajectories`).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import jax.numpy as jnp
import numpy as np

from sciml.library.collection import MAX_ROUGHNESS, PrimitiveLibrary, as_activations

__all__ = ["DISCOVERY", "HELD_OUT", "MAX_ROUGHNESS", "TASKS", "VectorFieldTask", "as_activations",
           "discover_library"]


@dataclasses.dataclass(frozen=True)
class VectorFieldTask:
    """One system ``u' = f(u)`` on a box of states.

    Attributes:
        name: short name (table rows, provenance).
        nonlinearity: what makes it nonlinear, in words.
        field: ``f(u)`` for ``u (..., 2)`` (NumPy or JAX arrays), returning ``(..., 2)``.
        box: ``((lo_1, hi_1), (lo_2, hi_2))``, where samples and initial states are drawn.
        role: ``"discovery"`` or ``"held-out"``.
        horizon: the time span of its trajectories.
    """

    name: str
    nonlinearity: str
    field: Callable
    box: tuple[tuple[float, float], tuple[float, float]]
    role: str
    horizon: float = 4.0

    def sample(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` states drawn uniformly in the box and their rates, ``(n, 2)`` each (float64)."""
        lo, hi = np.asarray(self.box, float).T
        x = np.random.default_rng(seed).uniform(lo, hi, (int(n), 2))
        return x, np.asarray(self.field(x), float)

    def trajectories(self, n: int, seed: int, points: int = 41) -> tuple[np.ndarray, np.ndarray]:
        """``n`` trajectories from initial states drawn in the box: times ``(points,)``, states ``(n, points, 2)``."""
        from sciml.dynamics.node import integrate_exact

        ts = np.linspace(0.0, self.horizon, int(points))
        u0, _ = self.sample(n, seed)
        ys = integrate_exact(lambda t, u, args: self.field(u), u0, ts)
        return ts, np.asarray(ys, float)


def _stack(a, b):
    return jnp.stack([a, b], -1) if isinstance(a, jnp.ndarray) else np.stack([a, b], -1)


def _lib(u):
    return jnp if isinstance(u, jnp.ndarray) else np


def _pendulum(u):
    x, v = u[..., 0], u[..., 1]
    return _stack(v, -2.0 * _lib(u).sin(x) - 0.2 * v)


def _duffing(u):
    x, v = u[..., 0], u[..., 1]
    return _stack(v, x - x**3 - 0.3 * v)


def _lotka_volterra(u):
    x, y = u[..., 0], u[..., 1]
    return _stack(1.1 * x - 0.8 * x * y, 0.6 * x * y - 0.9 * y)


def _michaelis_menten(u):
    s, p = u[..., 0], u[..., 1]
    rate = 2.0 * s / (0.5 + s)
    return _stack(1.0 - rate + 0.3 * p, rate - 0.8 * p)


def _gaussian_bump(u):
    x, v = u[..., 0], u[..., 1]
    return _stack(v, -x + 2.0 * _lib(u).exp(-2.0 * x**2) - 0.2 * v)


def _van_der_pol(u):
    x, v = u[..., 0], u[..., 1]
    return _stack(v, 1.5 * (1.0 - x**2) * v - x)


def _tanh_coupled(u):
    x, y = u[..., 0], u[..., 1]
    t = _lib(u).tanh
    return _stack(-x + 2.0 * t(1.5 * y), -y - 2.0 * t(1.5 * x) + 0.5)


def _morse(u):
    x, v = u[..., 0], u[..., 1]
    e = _lib(u).exp(-x)
    return _stack(v, -2.0 * e * (1.0 - e) - 0.1 * v)


def _brusselator(u):
    x, y = u[..., 0], u[..., 1]
    return _stack(1.0 - 3.0 * x + x**2 * y, 2.0 * x - x**2 * y)


def _kuramoto(u):
    a, b = u[..., 0], u[..., 1]
    s = _lib(u).sin
    return _stack(1.0 + 1.5 * s(b - a) + 0.5 * s(a), 0.4 + 1.5 * s(a - b))


TASKS: tuple[VectorFieldTask, ...] = (
    VectorFieldTask("pendulum", "sin", _pendulum, ((-3.0, 3.0), (-2.0, 2.0)), "discovery"),
    VectorFieldTask("duffing", "cubic", _duffing, ((-1.8, 1.8), (-1.5, 1.5)), "discovery"),
    VectorFieldTask("lotka-volterra", "products", _lotka_volterra, ((0.2, 3.0), (0.2, 3.0)), "discovery"),
    VectorFieldTask("michaelis-menten", "saturating s/(K+s)", _michaelis_menten, ((0.0, 3.0), (0.0, 3.0)),
                    "discovery"),
    VectorFieldTask("gaussian-bump", "Gaussian forcing", _gaussian_bump, ((-2.5, 2.5), (-2.0, 2.0)), "discovery"),
    VectorFieldTask("van-der-pol", "cubic damping x^2 v", _van_der_pol, ((-2.5, 2.5), (-3.0, 3.0)), "held-out"),
    VectorFieldTask("tanh-coupled", "tanh coupling", _tanh_coupled, ((-3.0, 3.0), (-3.0, 3.0)), "held-out"),
    VectorFieldTask("morse", "exponential exp(-x)", _morse, ((-0.5, 2.0), (-0.5, 0.5)), "held-out"),
    VectorFieldTask("brusselator", "products x^2 y", _brusselator, ((0.2, 3.0), (0.2, 3.5)), "held-out", 3.0),
    VectorFieldTask("kuramoto", "sin of differences", _kuramoto, ((-3.0, 3.0), (-3.0, 3.0)), "held-out"),
)
DISCOVERY = tuple(t for t in TASKS if t.role == "discovery")
HELD_OUT = tuple(t for t in TASKS if t.role == "held-out")


def discover_library(tasks=DISCOVERY, *, samples: int = 400, hidden=(), grid: int = 8, steps: int = 200,
                     seed: int = 0, tolerance: float = 1e-2, min_support: int = 1,
                     name: str = "family", into: PrimitiveLibrary | None = None) -> tuple[PrimitiveLibrary, list]:
    """Fit a KAN to each task's samples (through :func:`sciml.models.kan_train.fit_data`),
    harvest its active edges and deduplicate them all into one library.

    Inputs are mapped to ``[-1, 1]`` and outputs to unit standard deviation per component
    first (the same for every task), so edge scores compare across tasks.

    Args:
        tolerance: affine distance under which two edges are one primitive (see
            :func:`sciml.library.dedup.deduplicate`).
        min_support: keep members harvested from at least this many edges (``into``'s
            members are kept whatever their support).
        into: a library to grow (e.g. the built-in ``standard``): its members come first and
            absorb the edges equivalent to them.

    Returns:
        The library and every harvested edge (before deduplication).
    """
    from sciml.library.dedup import deduplicate
    from sciml.library.harvest import harvest
    from sciml.models.kan_train import fit_data
    from sciml.models.registry import build_model

    found = []
    for k, task in enumerate(tasks):
        x, y = task.sample(samples, seed + k)
        lo, hi = np.asarray(task.box, float).T
        x = 2.0 * (x - lo) / (hi - lo) - 1.0
        y = (y - y.mean(0)) / (y.std(0) + 1e-12)
        kan = build_model("kan", 2, 2, seed=seed, hidden=tuple(hidden), grid=grid)
        kan = fit_data(kan, x.astype(np.float32), y.astype(np.float32), steps=steps, grid_updates=2).model
        found += harvest(kan, problem=task.name, samples=x.astype(np.float32))
    library = deduplicate(found, name=name, tolerance=tolerance,
                          into=None if into is None else PrimitiveLibrary(name, into))
    start = set(into.names) if into is not None else set()
    keep = [m for m in library if m.name in start or len(m.provenance) >= int(min_support)]
    return PrimitiveLibrary(name, keep), found
