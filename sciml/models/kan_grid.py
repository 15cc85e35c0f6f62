r"""Grid adaptation for KANs: update a grid to the data, extend it to a finer resolution.

Both operations keep the network's function (as far as the new basis can represent it) by a
least-squares refit of the spline coefficients of every edge on sample inputs. For layer
``l`` with inputs :math:`x^{(n)}` (the samples pushed through layers ``< l``), old spline part
:math:`s_{ij}(x) = \sum_m c_{ijm} B_m(x)` and new basis :math:`B'`, the new coefficients solve

.. math::

    \min_{c'} \sum_n \Big(\sum_{m'} c'_{ijm'} B'_{m'}(x^{(n)}_i) - s_{ij}(x^{(n)}_i)\Big)^2,

one small problem per input ``i`` with all ``n_out`` right-hand sides at once; the ``n_in``
problems are solved as one batched ``lstsq`` (``jax.vmap``), so wide layers take
milliseconds, not minutes. The scales ``w^b, w^s`` and the masks are unchanged.

* :func:`update_grid` moves the knots to the sample distribution: ``grid_eps`` x uniform +
  ``(1 - grid_eps)`` x sample quantiles over the sample range (pykan's ``grid_eps``). The
  resolution is unchanged.
* :func:`extend_grid` refines the grid from ``G`` to ``G'`` over the same range. When ``G'``
  is a multiple of ``G`` every old knot is kept, the spline spaces are nested and the
  function is reproduced to rounding error on the range covered by the samples.
* :class:`GridSchedule` is a training schedule of resolutions, e.g. ``3 -> 5 -> 10 -> 20``.
* :class:`GridExtension` is the trainer's callback for ``TrainConfig.grid_schedule``
  (a :class:`sciml.training.callbacks.ModelCallback`): update, then extend, at given steps.

**Optimiser state.** Both functions return a *new* model; :func:`extend_grid` changes the
shapes of the coefficient arrays, so the optimiser restarts on the returned model. Adam's
moments of the old coefficients describe another basis and are not worth mapping; pykan
likewise starts a fresh optimiser after each extension. The training engine does this for
every callback that replaces the parameters (:class:`GridExtension` in a PDE run,
:func:`sciml.models.kan_train.fit_data`'s grid updates).

Reference: Liu et al., "KAN: Kolmogorov–Arnold Networks", arXiv:2404.19756 (2024), §2.4.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from sciml.models.kan import KAN, KANGrid, KANLayer
from sciml.models.kan_bases import get_basis

__all__ = ["GridExtension", "GridSchedule", "extend_grid", "refit_coefficients", "update_grid"]


def _samples(model: KAN, samples) -> jax.Array:
    x = jnp.asarray(samples)
    if x.ndim < 2 or x.shape[-1] != model.in_features:
        raise ValueError(
            f"samples must have shape (N, {model.in_features}) (inputs of the network), got {x.shape}"
        )
    return x.reshape(-1, model.in_features)


def refit_coefficients(layer: KANLayer, x: jax.Array, basis, grid: jax.Array) -> jax.Array:
    """Least-squares coefficients ``(n_in, n_out, M')`` of ``layer``'s spline parts in ``basis``
    on ``grid``, fitted at the layer inputs ``x (N, n_in)``."""
    target = layer.spline_part(x)  # (N, n_in, n_out)
    return _lstsq_coefficients(x, grid.astype(x.dtype), target, basis).astype(layer.coef[...].dtype)


@functools.partial(jax.jit, static_argnames="basis")
def _lstsq_coefficients(x, grid, target, basis):
    design = basis(x, grid)  # (N, n_in, M')
    # One least-squares problem per input, all outputs as right-hand sides, batched.
    coef = jax.vmap(lambda a, b: jnp.linalg.lstsq(a, b)[0], in_axes=(1, 1))(design, target)
    return jnp.swapaxes(coef, 1, 2)  # (n_in, n_out, M')


def _regrid(model: KAN, samples, new_grid_fn, new_size: int | None) -> KAN:
    x = _samples(model, samples)
    new = nnx.clone(model)
    current = x  # inputs of the current layer under the new network (earlier layers refitted)
    for layer, old_layer in zip(new.layers, model.layers):
        size = old_layer.grid_size if new_size is None else new_size
        basis = get_basis(model.basis_name, grid=size, order=model.order)
        # The grid follows the inputs the new layer will actually see; the coefficients
        # reproduce the old edge functions at those inputs.
        grid = new_grid_fn(old_layer, basis, current, size)
        coef = refit_coefficients(old_layer, current, basis, grid)
        layer.basis = basis
        layer.grid = KANGrid(grid.astype(old_layer.grid[...].dtype))
        layer.coef = nnx.Param(coef)
        current = layer(current)
    return new


def update_grid(model: KAN, samples, *, grid_eps: float = 0.02, margin: float = 0.0) -> KAN:
    """A copy of ``model`` whose grids follow the distribution of ``samples (N, in_features)``.

    Args:
        model: the network.
        samples: network inputs; each layer's grid is fitted to its own inputs.
        grid_eps: weight of the uniform grid (1 = uniform over the sample range, 0 = pure
            quantiles).
        margin: widen the sample range by this much on each side.
    """
    if not 0.0 <= grid_eps <= 1.0:
        raise ValueError(f"grid_eps must lie in [0, 1], got {grid_eps}")

    def new_grid(old_layer, basis, inp, size):
        return basis.grid_from_samples(inp, size, grid_eps=grid_eps, margin=margin)

    return _regrid(model, samples, new_grid, None)


def extend_grid(model: KAN, new_grid: int, samples) -> KAN:
    """A copy of ``model`` at grid resolution ``new_grid``, refitted on ``samples``.

    The grid keeps its range (and, for ``new_grid`` a multiple of the current one, every
    knot); coefficients are refitted by batched least squares so the function is preserved
    on the range covered by ``samples``. Parameter shapes change: re-initialise the
    optimiser on the returned model.

    Raises:
        ValueError: ``new_grid`` is not an integer above the current resolution, or the
            samples have the wrong shape.
    """
    if int(new_grid) != new_grid or new_grid < model.grid_size:
        raise ValueError(
            f"new_grid must be an integer >= the current grid {model.grid_size}, got {new_grid!r}"
        )

    def refined(old_layer, basis, inp, size):
        return basis.refine_grid(old_layer.grid[...], size)

    return _regrid(model, samples, refined, int(new_grid))


@dataclasses.dataclass(frozen=True)
class GridSchedule:
    """Grid resolutions during training, e.g. ``(3, 5, 10, 20)``.

    Training starts at ``grids[0]`` (build the model with that ``grid``) and switches to
    ``grids[j]`` at ``steps[j - 1]``; without ``steps`` the switches split the run into
    equal parts.
    """

    grids: Sequence[int] = (3, 5, 10, 20)
    steps: Sequence[int] | None = None

    def __post_init__(self):
        grids = tuple(int(g) for g in self.grids)
        if not grids or any(b <= a for a, b in itertools.pairwise(grids)):
            raise ValueError(f"grids must be increasing, got {self.grids!r}")
        object.__setattr__(self, "grids", grids)
        if self.steps is not None:
            steps = tuple(int(s) for s in self.steps)
            if len(steps) != len(grids) - 1 or any(b <= a for a, b in itertools.pairwise(steps)):
                raise ValueError(
                    f"steps must give {len(grids) - 1} increasing switch steps for grids {grids}, got {self.steps!r}"
                )
            object.__setattr__(self, "steps", steps)

    def switch_steps(self, total_steps: int) -> tuple[int, ...]:
        """The steps at which the resolution changes."""
        if self.steps is not None:
            return tuple(self.steps)
        n = len(self.grids)
        return tuple(round(total_steps * j / n) for j in range(1, n))

    def grid_at(self, step: int, total_steps: int) -> int | None:
        """The new resolution if ``step`` is a switch step, else ``None``."""
        switches = self.switch_steps(total_steps)
        if step in switches:
            return self.grids[switches.index(step) + 1]
        return None


@dataclasses.dataclass(frozen=True)
class GridExtension:
    """Training callback: at each ``(step, G)`` of ``schedule`` a KAN surrogate's grids are
    moved to the range of their current inputs, then refined to ``G`` (the function kept by
    least-squares refits). The trainer builds it for ``TrainConfig.grid_schedule``.
    """

    schedule: Sequence[tuple[int, int]]

    def __post_init__(self):
        object.__setattr__(self, "schedule", tuple(sorted((int(s), int(g)) for s, g in self.schedule)))

    @property
    def steps(self) -> tuple[int, ...]:
        """The steps at which the grid changes."""
        return tuple(s for s, _ in self.schedule)

    def __call__(self, model: KAN, step: int, inputs: jax.Array) -> KAN:
        """``model`` on the grid scheduled at ``step``, refitted at network ``inputs (n, in_features)``."""
        if not isinstance(model, KAN):
            raise ValueError(f"grid_schedule needs a KAN surrogate, got {type(model).__name__}")
        # Hidden values drift outside the initial grid range during training, where a refined
        # grid has less support than the old one and the refit would change the function (a
        # Poisson KAN's residual rose eightfold at G 4 -> 12). So each layer's grid first moves,
        # uniformly, to the range its inputs cover (as pykan does); refining then keeps every knot.
        return extend_grid(update_grid(model, inputs, grid_eps=1.0), dict(self.schedule)[step], inputs)
