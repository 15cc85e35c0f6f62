"""Plots a scientist would rather look at than read: prediction, reference, error, losses."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def _as_2d(da: xr.DataArray) -> xr.DataArray:
    """Reduce to at most two dimensions by taking middle slices of the others (a dimension of one,
    such as an ODE's single ``trajectory``, is dropped: it cannot span an axis)."""
    da = da.squeeze(drop=True)
    while da.ndim > 2:
        d = da.dims[-1]
        da = da.isel({d: da.sizes[d] // 2})
    return da


def _panel(ax, da: xr.DataArray, title: str, cmap: str = "viridis", symmetric: bool = False):
    da = _as_2d(da)
    if da.ndim == 1:
        da.plot(ax=ax)
    else:
        kw = {}
        if symmetric:
            vmax = float(np.nanmax(np.abs(da.values))) or 1.0
            kw = dict(vmin=-vmax, vmax=vmax)
        # Time (if any) goes on the horizontal axis, as is customary for space–time plots.
        da.plot.pcolormesh(ax=ax, x="t" if "t" in da.dims else da.dims[0], cmap=cmap, **kw)
        spans = [float(np.ptp(da[d].values)) for d in da.dims]
        if "t" not in da.dims and min(spans) > 0 and max(spans) / min(spans) <= 5:
            ax.set_aspect("equal")  # space in its true proportions: a disk stays round
    ax.set_title(title)


def _observations(ax, prediction: xr.DataArray, observed: xr.DataArray | None) -> None:
    """The observations of a field drawn over its prediction where both are curves of the same
    coordinate (an ODE's states against time)."""
    if observed is None or _as_2d(prediction).ndim != 1:
        return
    observed = observed.squeeze(drop=True)
    if observed.dims != _as_2d(prediction).dims:
        return
    ax.plot(observed[observed.dims[0]].values, observed.values, ".", color="k", ms=3, label="observations")
    ax.legend(fontsize=7)


def loss_title(phases) -> str:
    """Title of the loss panel, naming only the optimisers that ran."""
    ran = [p for p in ("adam", "lbfgs") if p in set(np.asarray(phases).tolist())]
    if len(ran) == 2:
        return "loss terms (dotted: Adam → L-BFGS)"
    return {"adam": "loss terms (Adam)", "lbfgs": "loss terms (L-BFGS)"}.get(ran[0] if ran else "", "no training steps")


def plot_solution(solution, path: str | Path) -> Path:
    """Prediction, reference and error of every field, and the loss history, in one PNG."""
    ds = solution.to_xarray()
    fields = solution.compiled.field_names
    has_ref = any(f"{f}_reference" in ds for f in fields)
    ncols = 3 if has_ref else 2 if solution.parameters else 1  # the parameters' text needs a second column
    fig, axes = plt.subplots(len(fields) + 1, ncols, figsize=(4.6 * ncols, 3.6 * (len(fields) + 1)), squeeze=False)
    data = getattr(solution.problem, "data", None)
    for row, f in enumerate(fields):
        _panel(axes[row, 0], ds[f], f"{f}: prediction")
        _observations(axes[row, 0], ds[f], data[f] if data is not None and f in data else None)
        if has_ref and f"{f}_reference" in ds:
            _panel(axes[row, 1], ds[f"{f}_reference"], f"{f}: reference")
            rel = solution.metrics.get("rel_l2_by_field", {}).get(f)
            _panel(axes[row, 2], ds[f"{f}_error"], f"{f}: error (rel. L2 {rel:.2e})" if rel is not None else f"{f}: error", cmap="RdBu_r", symmetric=True)
        else:
            for empty in axes[row, 1:]:
                empty.axis("off")
    ax = axes[-1, 0]
    hist = solution.history
    steps = np.arange(1, len(hist["loss"]) + 1)
    for k, v in hist.items():
        if k in ("phase",):
            continue
        ax.semilogy(steps, np.maximum(np.asarray(v, float), 1e-30), label=k, lw=1.0 if k != "loss" else 1.8)
    n_adam = int(np.sum(np.asarray(hist["phase"]) == "adam"))
    if 0 < n_adam < len(steps):
        ax.axvline(n_adam, color="k", ls=":", lw=0.8)
    ax.set_xlabel("step")
    ax.set_title(loss_title(hist["phase"]))
    if len(steps):
        ax.legend(fontsize=7)
    for extra in axes[-1, 1:]:
        extra.axis("off")
    if solution.parameters:
        units = {p.name: p.units for p in getattr(getattr(solution, "problem", None), "parameters", ()) if p.units}
        txt = "\n".join(f"{k} = {v:.6g}" + (f" {units[k]}" if k in units else "") for k, v in solution.parameters.items())
        # a unit label is the user's text, never mathtext ("$" stays a dollar sign)
        axes[-1, 1].text(0.05, 0.9, "identified parameters\n" + txt, va="top", family="monospace",
                         parse_math=False)
    fig.suptitle(f"{solution.problem.name} — {solution.model_name}")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
