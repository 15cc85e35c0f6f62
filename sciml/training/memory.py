"""Memory of a collocation batch, estimated before anything is allocated.

A physics-informed loss keeps, for every collocation point, the activations of every layer for
every value of its nested forward-mode derivative chains (a ``k``-fold chain carries ``2^k``
values), and the backward pass holds them until it has used them. The estimate below counts
exactly that — points x derivative values x summed layer widths x primal and cotangent — so it
is coarse (XLA fuses and frees a good part) but of the right order, which is what is needed to
refuse ``10^9`` points before the machine swaps instead of after.
"""

from __future__ import annotations

import os

import jax
import numpy as np
import sympy as sp
from flax import nnx

MEMORY_FRACTION = 0.5  # refuse batches estimated above this share of the available memory


class MemoryEstimateError(ValueError):
    """The requested batch would not fit in memory; the message gives the estimate and the fix."""


def available_memory_bytes() -> int | None:
    """Memory the batch can use: the accelerator's limit, else the host's available memory."""
    try:
        device = jax.devices()[0]
        if device.platform != "cpu":
            stats = device.memory_stats() or {}
            if "bytes_limit" in stats:
                return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    except Exception:  # an estimate must never fail a run
        pass
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def derivative_values_per_point(equations) -> int:
    """Values one point carries through the nested-jvp chains of the equations (``1 + sum 2^k``)."""
    orders = set()
    for eq in equations:
        for d in sp.sympify(eq).atoms(sp.Derivative):
            orders.add((d.expr, tuple((str(v), int(n)) for v, n in d.variable_count)))
    return 1 + sum(2 ** sum(n for _, n in counts) for _, counts in orders)


def activation_width(model: nnx.Module) -> int:
    """Sum of the output widths of a model's weight arrays (a proxy for its activations)."""
    leaves = jax.tree.leaves(nnx.state(model, nnx.Param))
    return max(64, int(sum(np.shape(a)[-1] for a in leaves if np.ndim(a) >= 2)))


def estimate_batch_bytes(n_points: int, n_coordinates: int, derivative_values: int, width: int,
                         itemsize: int) -> int:
    """Estimated peak bytes of a loss-and-gradient evaluation over ``n_points`` points."""
    return int(n_points) * itemsize * (n_coordinates + 2 * derivative_values * width)


def check_batch_memory(points: dict[str, int], n_conditions: int, equations, n_coordinates: int,
                       model: nnx.Module, itemsize: int, available: int | None = None) -> int:
    """Raise :class:`MemoryEstimateError` when a batch would take too much memory.

    Returns:
        The estimate in bytes.
    """
    n = int(points.get("interior", 1000)) + n_conditions * int(points.get("boundary", 200))
    need = estimate_batch_bytes(n, n_coordinates, derivative_values_per_point(equations),
                                activation_width(model), itemsize)
    available = available_memory_bytes() if available is None else available
    if available is not None and need > MEMORY_FRACTION * available:
        fit = max(1, int(points.get("interior", 1000) * MEMORY_FRACTION * available / need))
        raise MemoryEstimateError(
            f"{points.get('interior', 1000):,} interior collocation points would need about "
            f"{need / 2**30:,.1f} GiB of memory per batch (estimate) but {available / 2**30:,.1f} GiB "
            f"is available; use fewer points per batch, e.g. --train 'points={{\"interior\": {fit}}}', "
            "with resample_every to cover the domain over the run"
        )
    return need


def check_dense_hessian_memory(n_parameters: int, itemsize: int, available: int | None = None) -> int:
    """Raise :class:`MemoryEstimateError` when a dense ``n x n`` inverse-Hessian estimate (dense
    BFGS) would take too much memory; the update holds about three such matrices at once.

    Returns:
        The estimate in bytes.
    """
    need = 3 * n_parameters**2 * itemsize
    available = available_memory_bytes() if available is None else available
    if available is not None and need > MEMORY_FRACTION * available:
        raise MemoryEstimateError(
            f"dense BFGS on {n_parameters:,} parameters would need about {need / 2**30:,.1f} GiB for its "
            f"inverse-Hessian estimate but {available / 2**30:,.1f} GiB is available; use "
            "--train quasi_newton=lbfgs (limited memory) or a smaller network"
        )
    return need
