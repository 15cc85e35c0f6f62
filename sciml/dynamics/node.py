"""Neural ordinary differential equations on diffrax.

A neural ODE (Chen et al., NeurIPS 2018) models a trajectory as the solution of

.. math::  \\dot{\\mathbf u} = f_\\theta(t, \\mathbf u), \\qquad \\mathbf u(t_0) = \\mathbf u_0,

with ``f`` a network (MLP, KAN) or a universal differential equation (Rackauckas et al. 2020:
known terms exact, unknown terms networks, see :class:`UDEField`). Integration uses diffrax:
by default Tsit5 with a PID step-size controller and ``RecursiveCheckpointAdjoint`` (exact
discrete gradients, memory ``O(sqrt(max_steps))``), with ``max_steps`` set so that a stiff or
exploding field during training fails fast instead of hanging. Stiff fields select
``Kvaerno5`` (``ODESolver(solver="kvaerno5")``).

The fields are :class:`flax.nnx.Module` s ``field(t, u) -> du/dt``; :func:`integrate` is the
one functional entry point used by every model and by the training loop.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Callable

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from sciml.models import build_model

if TYPE_CHECKING:
    from sciml.dynamics.problem import CompiledODE

__all__ = ["ODESolver", "integrate", "integrate_exact", "integrate_rk4", "NeuralField", "UDEField", "NeuralODE"]

_SOLVERS = {
    "tsit5": diffrax.Tsit5,
    "dopri5": diffrax.Dopri5,
    "dopri8": diffrax.Dopri8,
    "heun": diffrax.Heun,
    "euler": diffrax.Euler,
    "kvaerno3": diffrax.Kvaerno3,
    "kvaerno5": diffrax.Kvaerno5,
}
_ADJOINTS = {
    "recursive": diffrax.RecursiveCheckpointAdjoint,
    "backsolve": diffrax.BacksolveAdjoint,
    "direct": diffrax.DirectAdjoint,
}


@dataclasses.dataclass(frozen=True)
class ODESolver:
    """How to integrate: solver, tolerances, step budget and adjoint.

    Args:
        solver: ``tsit5`` (default), ``dopri5``, ``dopri8``, ``heun``, ``euler`` or the stiff
            ``kvaerno3`` / ``kvaerno5``.
        rtol, atol: PID controller tolerances (ignored when ``dt`` is set).
        dt: fixed step size; ``None`` (default) uses adaptive PID step control.
        max_steps: hard step budget; a solve that needs more returns ``inf`` (``throw=False``)
            so a bad training step is skipped instead of raising inside ``jit``.
        adjoint: ``recursive`` (default, discretise-then-optimise), ``backsolve`` or ``direct``.
    """

    solver: str = "tsit5"
    rtol: float = 1e-4
    atol: float = 1e-6
    dt: float | None = None
    max_steps: int = 4096
    adjoint: str = "recursive"

    def __post_init__(self):
        if self.solver not in _SOLVERS:
            raise ValueError(f"unknown ODE solver {self.solver!r}; choose one of {sorted(_SOLVERS)}")
        if self.adjoint not in _ADJOINTS:
            raise ValueError(f"unknown adjoint {self.adjoint!r}; choose one of {sorted(_ADJOINTS)}")
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be a positive integer, got {self.max_steps}")
        if self.dt is None and self.solver in ("euler",):
            raise ValueError("euler has no error estimate for adaptive steps; pass dt=... too")


def integrate(
    field: Callable[[jax.Array, jax.Array], jax.Array],
    y0: jax.Array,
    ts: jax.Array,
    solver: ODESolver = ODESolver(),
) -> jax.Array:
    """Solve ``du/dt = field(t, u)`` from ``u(ts[0]) = y0`` and return ``u(ts)``.

    Args:
        field: a function ``(t, u) -> du/dt`` with ``u`` of shape ``(n,)``.
        y0: ``(n,)`` initial state.
        ts: ``(T,)`` increasing save times; the solve starts at ``ts[0]``.

    Returns:
        ``(T, n)`` states; rows are ``inf`` if the step budget ran out.
    """
    ts = jnp.asarray(ts)
    if isinstance(field, nnx.Module):
        # Parameters travel as diffrax `args` (not closed over) so every adjoint, including
        # BacksolveAdjoint, differentiates with respect to them.
        graphdef, state = nnx.split(field)
        term = diffrax.ODETerm(lambda t, y, args: nnx.merge(graphdef, args)(t, y))
        args = state
    else:
        term = diffrax.ODETerm(lambda t, y, args: field(t, y))
        args = None
    if solver.dt is None:
        controller = diffrax.PIDController(rtol=solver.rtol, atol=solver.atol)
        dt0 = None
    else:
        controller = diffrax.ConstantStepSize()
        dt0 = solver.dt
    sol = diffrax.diffeqsolve(
        term,
        _SOLVERS[solver.solver](),
        t0=ts[0],
        t1=ts[-1],
        dt0=dt0 if dt0 is not None else (ts[-1] - ts[0]) / 100.0,
        y0=y0,
        args=args,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=controller,
        adjoint=_ADJOINTS[solver.adjoint](),
        max_steps=solver.max_steps,
        throw=False,
    )
    failed = sol.result != diffrax.RESULTS.successful
    return jnp.where(failed, jnp.inf, sol.ys)


def integrate_exact(
    f: Callable, y0: np.ndarray, ts: np.ndarray, args=None, *, max_steps: int = 1_000_000, throw: bool = True
) -> np.ndarray:
    """Float64 Dopri8 solution of ``dy/dt = f(t, y, args)`` at ``ts`` (``(B, n)`` -> ``(B, T, n)``).

    With ``throw=False`` a failed solve (step budget exhausted, blow-up) returns ``inf``
    from the failure on instead of raising.
    """
    y0 = np.atleast_2d(np.asarray(y0, np.float64))
    ts = np.asarray(ts, np.float64)
    with jax.enable_x64(True):

        def one(y):
            sol = diffrax.diffeqsolve(
                diffrax.ODETerm(f), diffrax.Dopri8(), t0=ts[0], t1=ts[-1], dt0=None, y0=y, args=args,
                saveat=diffrax.SaveAt(ts=jnp.asarray(ts)), max_steps=max_steps, throw=throw,
                stepsize_controller=diffrax.PIDController(rtol=1e-10, atol=1e-10))
            ok = sol.result == diffrax.RESULTS.successful
            return jnp.where(ok | jnp.isfinite(sol.ys), sol.ys, jnp.inf)

        return np.asarray(jax.jit(jax.vmap(one))(jnp.asarray(y0)), np.float64)


def integrate_rk4(field: Callable, y0: jax.Array, ts: np.ndarray, steps: int = 400) -> jax.Array:
    """Classical RK4 with about ``steps`` equal steps over the span (a whole number per interval
    between the save times ``ts``, which may be irregular): ``(T, n)`` states at ``ts``.

    Differentiable in both modes and compiled in about a second, where a diffrax solve takes
    several: the law refit of :mod:`sciml.dynamics.solve` compiles one solve per candidate formula.
    """
    ts = np.asarray(ts, np.float64)
    sub = max(1, int(np.ceil(np.max(np.diff(ts)) * steps / (ts[-1] - ts[0]))))

    def interval(u, span):
        h = (span[1] - span[0]) / sub

        def step(u, k):
            t = span[0] + k * h
            k1 = field(t, u)
            k2 = field(t + h / 2, u + h / 2 * k1)
            k3 = field(t + h / 2, u + h / 2 * k2)
            k4 = field(t + h, u + h * k3)
            return u + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), None

        u, _ = jax.lax.scan(step, u, jnp.arange(sub))
        return u, u

    _, us = jax.lax.scan(interval, y0, (jnp.asarray(ts[:-1]), jnp.asarray(ts[1:])))
    return jnp.concatenate([y0[None], us])


# Vector-field MLPs keep the neural-ODE convention: two hidden layers of 32, LeCun-normal weights.
_FIELD_MLP = {"hidden": (32, 32), "init": "lecun_normal"}


def _network(kind: str, n_in: int, n_out: int, seed: int, options: dict) -> nnx.Module:
    """The registered surrogate ``kind`` (``mlp``, ``kan``, ...) as a map ``n_in -> n_out``."""
    return build_model(kind, n_in, n_out, seed=seed, **{**(_FIELD_MLP if kind == "mlp" else {}), **options})


class NeuralField(nnx.Module):
    """A black-box vector field ``f(t, u) = net(u)`` (``net([u, t])`` if ``time_dependent``).

    ``known`` optionally adds exact known terms ``known(t, u)``, so the network learns only
    the remainder (a UDE whose unknown is the whole residual). ``network`` is a registered
    surrogate name and ``network_options`` its options (for ``mlp``: ``hidden`` widths,
    default ``(32, 32)``, ``activation``, ``final_scale``, ...).
    """

    def __init__(
        self,
        n_states: int,
        *,
        network: str = "mlp",
        time_dependent: bool = False,
        known: Callable | None = None,
        seed: int = 0,
        **network_options,
    ):
        n_in = n_states + int(time_dependent)
        self.net = _network(network, n_in, n_states, seed, network_options)
        self.time_dependent = time_dependent
        self.known = known

    def __call__(self, t, u):
        x = jnp.concatenate([u, jnp.broadcast_to(t, u.shape[:-1] + (1,))], -1) if self.time_dependent else u
        du = self.net(x)
        if self.known is not None:
            du = du + self.known(t, u)
        return du


class UDEField(nnx.Module):
    """Universal differential equation: the problem's right-hand side, unknowns as networks.

    .. math::  \\dot u_i = k_i(t, u; \\theta) + \\sum_j c_{ij} U_j(\\text{inputs}_j(t, u))

    (in general the unknowns may enter nonlinearly: the compiled sympy right-hand side is
    evaluated with the network values substituted). Identified parameters ``theta`` are
    trainable :class:`nnx.Param` s initialised at their guesses.

    Args:
        compiled: :meth:`ODESystem.compile <sciml.dynamics.problem.ODESystem.compile>` output.
        identify_init: initial guesses of the identified parameters (problem order).
        network: registry name of the networks (``mlp``, ``kan``, ...), one per unknown.
        **network_options: their options, as for :class:`NeuralField`.
    """

    def __init__(
        self,
        compiled: CompiledODE,
        identify_init=(),
        *,
        network: str = "mlp",
        seed: int = 0,
        **network_options,
    ):
        self.compiled = compiled
        self.nets = nnx.List(
            [
                _network(network, k, 1, seed + 7919 * i, network_options)
                for i, k in enumerate(compiled.unknown_arity)
            ]
        )
        self.theta = nnx.Param(jnp.asarray(identify_init, dtype=jnp.float32).reshape(-1))

    def unknown_values(self, t, u) -> jax.Array:
        """``(..., n_unknowns)`` values of the learned terms at ``(t, u)``."""
        vals = [net(g(t, u))[..., 0] for net, g in zip(self.nets, self.compiled.unknown_inputs)]
        return jnp.stack(vals, -1) if vals else jnp.zeros(u.shape[:-1] + (0,), u.dtype)

    def __call__(self, t, u):
        return self.compiled.rhs(t, u, self.theta[...], self.unknown_values(t, u))


class NeuralODE(nnx.Module):
    """A trajectory model ``(ts, u0) -> u(ts)`` defined by a vector field module.

    Args:
        field: an :class:`nnx.Module` ``field(t, u) -> du/dt`` (:class:`NeuralField`,
            :class:`UDEField`, :class:`~sciml.dynamics.hamiltonian.HamiltonianField`, ...).
        solver: :class:`ODESolver` options.
    """

    def __init__(self, field: nnx.Module, solver: ODESolver = ODESolver()):
        self.field = field
        self.solver = solver

    def __call__(self, ts: jax.Array, u0: jax.Array) -> jax.Array:
        """``(T, n)`` for ``u0`` of shape ``(n,)``; ``(B, T, n)`` for a batch ``(B, n)``.

        ``ts`` is ``(T,)`` shared, or ``(B, T)`` per trajectory (irregular sampling).
        """
        u0 = jnp.asarray(u0)
        if u0.ndim == 1:
            return integrate(self.field, u0, ts, self.solver)
        ts = jnp.asarray(ts)
        in_axes = (0, 0) if ts.ndim == 2 else (None, 0)
        return jax.vmap(lambda t, y: integrate(self.field, y, t, self.solver), in_axes=in_axes)(ts, u0)
