"""The result of a dynamics solve: metrics, trajectories as xarray, law, files on disk.

Besides :class:`DynamicsResult`, the pieces every dynamics model's evaluation shares: the
observations as arrays, the trajectories as named variables of one dataset, and the error and
invariant-drift figures of a prediction against the reference.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time
from typing import Any

import jax.numpy as jnp
import numpy as np
import xarray as xr

from sciml.provenance import versions
from sciml.result import count_parameters
from sciml.verdict import Verdict

__all__ = ["DynamicsResult", "add_trajectory", "evaluate", "finish", "invariant_metrics",
           "rel_l2", "training_metrics", "trajectory_arrays", "trajectory_metrics"]


def rel_l2(pred, ref) -> float:
    """``||pred - ref|| / ||ref||`` over the finite entries (``inf`` if the prediction failed)."""
    pred, ref = np.asarray(pred, float), np.asarray(ref, float)
    ok = np.isfinite(ref)
    if not np.all(np.isfinite(pred[ok])):
        return float("inf")
    return float(np.linalg.norm(pred[ok] - ref[ok]) / np.linalg.norm(ref[ok]))


def trajectory_arrays(ds: xr.Dataset, states) -> tuple[np.ndarray, np.ndarray]:
    """``(times (T,), values (trajectory, T, state))`` of ``ds``; a missing state is all NaN."""
    ts = np.asarray(ds["time"].values, np.float64)
    cols = [ds[s].values if s in ds else np.full((ds.sizes["trajectory"], len(ts)), np.nan) for s in states]
    return ts, np.stack(cols, -1).astype(np.float64)


def add_trajectory(ds, states, tag, arr, dim="time_ref") -> None:
    """Store ``arr (trajectory, time, state)`` in ``ds`` as one ``<state>_<tag>`` per state."""
    for i, s in enumerate(states):
        ds[f"{s}_{tag}"] = (("trajectory", dim), np.asarray(arr, np.float64)[..., i])


def trajectory_metrics(tr, yr, pred, t_train_end, prefix) -> dict:
    """Relative L2 errors of ``pred`` against ``yr`` inside and beyond the training span."""
    inside = tr <= t_train_end + 1e-9
    return {
        f"{prefix}rel_l2_fit": rel_l2(pred[:, inside], yr[:, inside]),
        f"{prefix}rel_l2_extrapolation": rel_l2(pred[:, ~inside], yr[:, ~inside]) if (~inside).any() else None,
        f"{prefix}rel_l2": rel_l2(pred, yr),  # the whole reference: a PDE run's rel_l2
        f"{prefix}t_train_end": float(t_train_end),
        f"{prefix}t_end": float(tr[-1]),
    }


MAX_TRAJECTORIES_DRAWN = 4  # beyond that the panels are a tangle: solution.nc holds them all
PREDICTION_TIMES = 401  # times of the saved prediction where the problem has no reference


def invariant_metrics(compiled, pred, field) -> dict:
    """Largest relative drift of each declared invariant along the predicted trajectories."""
    out = {}
    theta = np.asarray(field.theta[...]) if hasattr(field, "theta") else np.zeros(0)
    for name, g in compiled.invariants.items():
        vals = np.asarray(g(jnp.asarray(pred), jnp.asarray(theta)))
        drift = np.abs(vals - vals[..., :1]) / np.maximum(np.abs(vals[..., :1]), 1e-12)
        out[f"invariant_drift_{name}"] = float(np.nanmax(drift)) if np.all(np.isfinite(vals)) else float("inf")
    return out


def training_metrics(model_name: str, kind: str, hist: dict, seed: int, model) -> dict:
    """The figures every dynamics model records about its training."""
    return {"model": model_name, "kind": kind, "steps": hist["steps"], "seed": seed,
            "train_wall_s": hist["wall_s"], "final_loss": hist["loss"][-1] if hist["loss"] else None,
            "n_params": count_parameters(model)}


def evaluate(problem, compiled, ts, ys, predict, metrics: dict, field):
    """The observations and the prediction ``predict(times, states)`` (from the initial states
    at ``states[:, 0]``) as one dataset. Where ``problem`` has a reference ``(tr, yr)`` the
    prediction is made on its times (coordinate ``time_ref``) and compared, error and
    invariant-drift figures going into ``metrics``; without one, on a grid of
    :data:`PREDICTION_TIMES` over the problem's interval (coordinate ``time_prediction``) from
    the observations' first states. Returns ``(dataset, tr, yr)`` (``tr, yr`` are ``None``
    without a reference).
    """
    states = problem.state_names
    ds = xr.Dataset(coords={"time": ts, "trajectory": np.arange(ys.shape[0])})
    measured = [k for k in range(len(states)) if np.isfinite(ys[..., k]).any()]  # a rate no datum measures: none
    add_trajectory(ds, [states[k] for k in measured], "observed", ys[..., measured], dim="time")
    if problem.reference is None:
        end = max(float(ts[-1]), problem.span[1] if problem.span else float(ts[-1]))
        times = np.linspace(float(ts[0]), end, PREDICTION_TIMES)
        ds = ds.assign_coords(time_prediction=times)
        add_trajectory(ds, states, "predicted", np.asarray(predict(times, ys)), dim="time_prediction")
        return ds, None, None
    tr, yr = trajectory_arrays(problem.reference, states)
    ds = ds.assign_coords(time_ref=tr)
    pred = np.asarray(predict(tr, yr))
    add_trajectory(ds, states, "reference", yr)
    add_trajectory(ds, states, "predicted", pred)
    metrics.update(trajectory_metrics(tr, yr, pred, ts[-1], prefix=""))
    metrics.update(invariant_metrics(compiled, pred, field))
    return ds, tr, yr


def finish(problem, model_name: str, metrics: dict, ds, start: float, verdict: Verdict, *, law=None, laws=None,
           model=None):
    """The :class:`DynamicsResult` of a solve that began at ``time.perf_counter() == start``."""
    ds.attrs.update(title=f"{problem.name}: {model_name}", states=",".join(problem.state_names))
    metrics.update(wall_s=time.perf_counter() - start, versions=versions(), verdict=verdict.as_dict())
    return DynamicsResult(metrics=metrics, dataset=ds, verdict=verdict, law=law, laws=laws, model=model)


@dataclasses.dataclass
class DynamicsResult:
    """Outcome of :func:`sciml.solve` with a trajectory model (:mod:`sciml.dynamics.solve`).

    Attributes:
        metrics: JSON-able figures (always ``wall_s``, ``n_params``, ``steps``, ``seed``,
            ``versions``, ``verdict``).
        dataset: trajectories on named coordinates (``trajectory``, ``time``): observations,
            reference, prediction and (when symbolified) the recovered law's prediction.
        verdict: whether to trust the prediction, judged without the reference
            (:mod:`sciml.dynamics.verdict`).
        law: ``law.json`` content when a law was recovered, else ``None``.
        laws: the recovered laws by unknown term (:class:`sciml.symbolic.Law`), else ``None``.
        model: the trained model (for :func:`sciml.dynamics.io.save`).
    """

    metrics: dict[str, Any]
    dataset: xr.Dataset
    verdict: Verdict
    law: dict[str, Any] | None = None
    laws: dict[str, Any] | None = None
    model: Any = None

    def to_xarray(self) -> xr.Dataset:
        return self.dataset

    def write(self, out_dir) -> pathlib.Path:
        """Write ``solution.nc``, ``metrics.json``, ``plot.png`` (+ ``law.json``, ``model/``)."""
        out = pathlib.Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.dataset.to_netcdf(out / "solution.nc", engine="h5netcdf")
        (out / "metrics.json").write_text(json.dumps(_jsonable(self.metrics), indent=2))
        if self.law is not None:
            (out / "law.json").write_text(json.dumps(_jsonable(self.law), indent=2))
        self._plot(out / "plot.png")
        if self.model is not None:
            from sciml.dynamics.io import save

            try:
                save(self.model, out / "model")
            except TypeError:
                pass  # models without a recorded constructor are not saved
        return out

    def _plot(self, path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ds = self.dataset
        states = list(ds.attrs.get("states", "").split(",")) if ds.attrs.get("states") else []
        fig, axes = plt.subplots(len(states) or 1, 1, figsize=(8, 2.4 * max(1, len(states))), squeeze=False)
        times = ds["time_ref"] if "time_ref" in ds.coords else ds.coords.get("time_prediction")
        shown = min(ds.sizes.get("trajectory", 1), MAX_TRAJECTORIES_DRAWN)
        for ax, s in zip(axes[:, 0], states):
            for j in range(shown):
                # One trajectory: the roles' colours; several: one colour per trajectory, the
                # roles told apart by line style (legend of the first).
                colour = (lambda role: role) if shown == 1 else (lambda role, j=j: f"C{j}")
                first = j == 0
                if f"{s}_reference" in ds:
                    ax.plot(times, ds[f"{s}_reference"].isel(trajectory=j), "-", lw=1, color=colour("k"),
                            label="reference" if first else None)
                if f"{s}_predicted" in ds:
                    ax.plot(times, ds[f"{s}_predicted"].isel(trajectory=j), "--", color=colour("C0"),
                            label="model" if first else None)
                if f"{s}_law" in ds:
                    ax.plot(times, ds[f"{s}_law"].isel(trajectory=j), ":", color=colour("C3"),
                            label="recovered law" if first else None)
                if f"{s}_observed" in ds:
                    ax.plot(ds["time"], ds[f"{s}_observed"].isel(trajectory=j), "o", ms=3, color=colour("C2"),
                            label="data" if first else None)
            ax.set_ylabel(s)
            if f"{s}_reference" in ds:
                r = ds[f"{s}_reference"].values
                span = np.nanmax(r) - np.nanmin(r)
                ax.set_ylim(np.nanmin(r) - 0.5 * span, np.nanmax(r) + 0.5 * span)
        axes[0, 0].legend(loc="upper right", fontsize=8)
        axes[-1, 0].set_xlabel("time")
        total = ds.sizes.get("trajectory", 1)
        drawn = "" if total == 1 else (f" ({total} trajectories, one colour each" +
                                       (f"; the first {shown} drawn)" if shown < total else ")"))
        fig.suptitle(ds.attrs.get("title", "") + drawn)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x
