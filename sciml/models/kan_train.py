r"""Fit a KAN to data: mean squared error plus the paper's sparsity regulariser, optax optimisers.

.. math::

    \mathcal{L}(\theta) = \frac{1}{N}\sum_n \lVert \mathrm{KAN}_\theta(x_n) - y_n \rVert^2
                          + \lambda\, \ell_\text{reg}(x),

with :math:`\ell_\text{reg}` the L1 + entropy term of
:func:`sciml.models.kan_prune.regularization` on the edges' spreads (:math:`\lambda` =
``sparsity``; pykan's ``lamb`` and its default measure). Everything ``nnx.Param`` trains — spline coefficients, scales and the constants of
edges fixed to formulas — while grids, masks and which edges are fixed stay as they are. The
optimiser is L-BFGS (pykan's default for small fits) or Adam, on the full batch, on the
training engine (:func:`sciml.training.engine.fit`): a fit to a table of ``(x, y)`` rows where
:class:`sciml.training.trainer.Trainer` fits a compiled problem.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from sciml.training.config import TrainConfig
from sciml.training.engine import fit

__all__ = ["DataFit", "fit_data"]


@dataclasses.dataclass
class DataFit:
    """The trained model and the loss after every step (``losses[k]`` before step ``k + 1``'s update)."""

    model: nnx.Module
    losses: np.ndarray


def fit_data(model: nnx.Module, x, y, *, steps: int = 200, optimizer: str = "lbfgs",
             learning_rate: float | None = None, sparsity: float = 0.0, grid_updates: int = 0,
             wrt=nnx.Param) -> DataFit:
    r"""Train ``model`` on ``(x (N, in), y (N, out))``; returns a new model, ``model`` is untouched.

    Args:
        steps: optimiser iterations (full batch).
        optimizer: ``"lbfgs"`` (20 curvature pairs, zoom line search) or ``"adam"``.
        learning_rate: Adam's step size (default ``1e-2``); L-BFGS takes its line search's.
        sparsity: weight :math:`\lambda` of the L1 + entropy regulariser (0: off); train with
            it before :func:`sciml.models.kan_prune.prune`.
        grid_updates: for a KAN, move every layer's grid to the inputs it sees
            (:func:`sciml.models.kan_grid.update_grid`) this many times, evenly over the first
            half of the steps (pykan's ``update_grid``): hidden values leave the initial grid
            range, where splines have no support. The optimiser restarts after each move.
        wrt: an nnx filter of the variables to train (default every ``nnx.Param``), e.g.
            ``nnx.All(nnx.Param, nnx.PathContains("coef"))`` for the spline coefficients only.

    Raises:
        sciml.training.engine.TrainingDiverged: the loss became NaN or infinite.
    """
    if optimizer not in ("lbfgs", "adam"):
        raise ValueError(f"optimizer must be 'lbfgs' or 'adam', got {optimizer!r}")
    if optimizer == "lbfgs" and learning_rate is not None:
        raise ValueError("L-BFGS takes the step of its line search: drop learning_rate, or use optimizer='adam'")
    if int(steps) < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    from sciml.models.kan_grid import update_grid
    from sciml.models.kan_prune import regularization
    from sciml.models.registry import model_penalty

    steps, grid_updates = int(steps), int(grid_updates)
    model = nnx.clone(model)
    dtype = jax.tree.leaves(nnx.state(model, wrt))[0].dtype
    x = jnp.asarray(x, dtype).reshape(-1, model.in_features)
    y = jnp.asarray(y, dtype).reshape(len(x), -1)
    # Steps run in equal chunks with a grid update before each of the first `grid_updates`.
    every = max(1, (steps // 2) // grid_updates) if grid_updates else steps
    chunks = [every] * min(grid_updates, steps // every) + [steps - every * min(grid_updates, steps // every)]
    losses = []
    for k, n in enumerate(c for c in chunks if c):
        if k < grid_updates:
            model = update_grid(model, x)
        graphdef, params, rest = nnx.split(model, wrt, ...)

        def loss(params, batch):
            m = nnx.merge(graphdef, params, rest)
            mse = jnp.mean((m(x) - y) ** 2)
            total = mse + model_penalty(m)  # the model's own regulariser, e.g. gate entropy
            return total + sparsity * regularization(m, x, measure="spread") if sparsity else total, {"mse": mse}

        config = TrainConfig(steps=n if optimizer == "adam" else 0, lbfgs_steps=n if optimizer == "lbfgs" else 0,
                             learning_rate=1e-2 if learning_rate is None else float(learning_rate),
                             lbfgs_memory=20, checkpoint_seconds=0.0, progress=False, progress_seconds=0.0)
        outcome = fit(loss, params, config)
        model = nnx.merge(graphdef, outcome.params, rest)
        losses.append(outcome.history["loss"])
    return DataFit(model, np.concatenate(losses))
