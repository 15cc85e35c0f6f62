r"""Fit a KAN to data: mean squared error plus the paper's sparsity regulariser, optax optimisers.

.. math::

    \mathcal{L}(\theta) = \frac{1}{N}\sum_n \lVert \mathrm{KAN}_\theta(x_n) - y_n \rVert^2
                          + \lambda\, \ell_\text{reg}(x),

with :math:`\ell_\text{reg}` the L1 + entropy term of
:func:`sciml.models.kan_prune.regularization` on the edges' spreads (:math:`\lambda` =
``sparsity``; pykan's ``lamb`` and its default measure). Everything ``nnx.Param`` trains — spline coefficients, scales and the constants of
edges fixed to formulas — while grids, masks and which edges are fixed stay as they are. The
optimiser is L-BFGS (``optax.lbfgs``, zoom line search; pykan's default for small fits) or
Adam, on the full batch, in one compiled ``lax.scan``.

This is the data-only counterpart of :class:`sciml.training.trainer.Trainer`, which trains
on a compiled problem (physics and observation terms, collocation sampling) and is the path
for PDE and ODE surrogates; the interactive KAN workflow and the continual-learning study fit
plain ``(x, y)`` tables, which that trainer does not take.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

__all__ = ["DataFit", "fit_data"]


@dataclasses.dataclass
class DataFit:
    """The trained model and the loss after every step (``losses[k]`` before step ``k + 1``'s update)."""

    model: nnx.Module
    losses: np.ndarray


def _objective(graphdef, rest, x, y, sparsity):
    from sciml.models.kan_prune import regularization

    def loss(params):
        model = nnx.merge(graphdef, params, rest)
        mse = jnp.mean((model(x) - y) ** 2)
        if sparsity:
            mse = mse + sparsity * regularization(model, x, measure="spread")
        return mse

    return loss


def _optimizer(optimizer: str, learning_rate):
    if optimizer == "lbfgs":
        return optax.lbfgs(learning_rate=learning_rate, memory_size=20)
    return optax.adam(learning_rate)


def _run(params, opt_state, rest, x, y, *, graphdef, optimizer, steps, learning_rate, sparsity):
    loss = _objective(graphdef, rest, x, y, sparsity)
    opt = _optimizer(optimizer, learning_rate)
    if optimizer == "lbfgs":
        value_and_grad = optax.value_and_grad_from_state(loss)

        def body(carry, _):
            p, state = carry
            value, grad = value_and_grad(p, state=state)
            updates, state = opt.update(grad, state, p, value=value, grad=grad, value_fn=loss)
            return (optax.apply_updates(p, updates), state), value
    else:

        def body(carry, _):
            p, state = carry
            value, grad = jax.value_and_grad(loss)(p)
            updates, state = opt.update(grad, state, p)
            return (optax.apply_updates(p, updates), state), value

    return jax.lax.scan(body, (params, opt_state), None, length=steps)


_COMPILED: dict = {}


def _compiled(graphdef, optimizer, steps, learning_rate, sparsity):
    """One jitted chunk per model structure and setting, reused across calls.

    A graph definition is not hashable (it holds lists), so it cannot be a static argument of
    ``jax.jit``; it is closed over instead, and the jitted function is kept under its ``repr``
    (equal reprs describe the same structure), so repeated fits of one architecture — phases,
    seeds — compile once.
    """
    key = (repr(graphdef), optimizer, steps, learning_rate, sparsity)
    if key not in _COMPILED:
        _COMPILED[key] = jax.jit(functools.partial(
            _run, graphdef=graphdef, optimizer=optimizer, steps=steps, learning_rate=learning_rate,
            sparsity=sparsity,
        ))
    return _COMPILED[key]


def fit_data(model: nnx.Module, x, y, *, steps: int = 200, optimizer: str = "lbfgs",
             learning_rate: float | None = None, sparsity: float = 0.0, grid_updates: int = 0,
             wrt=nnx.Param) -> DataFit:
    r"""Train ``model`` on ``(x (N, in), y (N, out))``; returns a new model, ``model`` is untouched.

    Args:
        steps: optimiser iterations (full batch).
        optimizer: ``"lbfgs"`` or ``"adam"``.
        learning_rate: Adam's step size (default ``1e-2``); for L-BFGS ``None`` (the line
            search's own step) or a fixed scale.
        sparsity: weight :math:`\lambda` of the L1 + entropy regulariser (0: off); train with
            it before :func:`sciml.models.kan_prune.prune`.
        grid_updates: for a KAN, move every layer's grid to the inputs it sees
            (:func:`sciml.models.kan_grid.update_grid`) this many times, evenly over the first
            half of the steps (pykan's ``update_grid``): hidden values leave the initial grid
            range, where splines have no support.
        wrt: an nnx filter of the variables to train (default every ``nnx.Param``), e.g.
            ``nnx.All(nnx.Param, nnx.PathContains("coef"))`` for the spline coefficients only.
    """
    if optimizer not in ("lbfgs", "adam"):
        raise ValueError(f"optimizer must be 'lbfgs' or 'adam', got {optimizer!r}")
    if int(steps) < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    if optimizer == "adam" and learning_rate is None:
        learning_rate = 1e-2
    steps, grid_updates = int(steps), int(grid_updates)
    graphdef, params, rest = nnx.split(nnx.clone(model), wrt, ...)
    dtype = jax.tree.leaves(params)[0].dtype
    x = jnp.asarray(x, dtype).reshape(-1, model.in_features)
    y = jnp.asarray(y, dtype).reshape(len(x), -1)
    # Steps run in equal chunks with a grid update before each of the first `grid_updates`;
    # the optimiser state carries over (as in pykan), and one compiled chunk serves them all.
    every = max(1, (steps // 2) // grid_updates) if grid_updates else steps
    chunks = [every] * (steps // every) + ([steps % every] if steps % every else [])
    learning_rate = None if learning_rate is None else float(learning_rate)
    runs = {n: _compiled(graphdef, optimizer, n, learning_rate, float(sparsity)) for n in set(chunks)}
    opt_state = _optimizer(optimizer, learning_rate).init(params)
    losses = []
    for k, n in enumerate(chunks):
        if k < grid_updates:
            from sciml.models.kan_grid import update_grid

            moved = update_grid(nnx.merge(graphdef, params, rest), x)
            _, params, rest = nnx.split(moved, wrt, ...)
        (params, opt_state), chunk_losses = runs[n](params, opt_state, rest, x, y)
        losses.append(np.asarray(chunk_losses))
    return DataFit(nnx.merge(graphdef, params, rest), np.concatenate(losses))
