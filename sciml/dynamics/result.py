"""The result of a dynamics solve: metrics, trajectories as xarray, law, files on disk."""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["DynamicsResult", "versions"]


from sciml.provenance import versions  # noqa: E402,F401


@dataclasses.dataclass
class DynamicsResult:
    """Outcome of :meth:`ODEProblem.solve`.

    Attributes:
        metrics: JSON-able figures (always ``wall_s``, ``n_params``, ``steps``, ``seed``,
            ``versions``).
        dataset: trajectories on named coordinates (``trajectory``, ``time``): observations,
            reference, prediction and (when symbolified) the recovered law's prediction.
        law: ``law.json`` content when a law was recovered, else ``None``.
        model: the trained model (for :func:`sciml.dynamics.io.save`).
    """

    metrics: dict[str, Any]
    dataset: xr.Dataset
    law: dict[str, Any] | None = None
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
        for ax, s in zip(axes[:, 0], states):
            if f"{s}_reference" in ds:
                ax.plot(ds["time_ref"], ds[f"{s}_reference"].isel(trajectory=0), "k-", lw=1, label="reference")
            if f"{s}_predicted" in ds:
                ax.plot(ds["time_ref"], ds[f"{s}_predicted"].isel(trajectory=0), "C0--", label="model")
            if f"{s}_law" in ds:
                ax.plot(ds["time_ref"], ds[f"{s}_law"].isel(trajectory=0), "C3:", label="recovered law")
            if f"{s}_observed" in ds:
                ax.plot(ds["time"], ds[f"{s}_observed"].isel(trajectory=0), "o", ms=3, color="C2", label="data")
            ax.set_ylabel(s)
            if f"{s}_reference" in ds:
                r = ds[f"{s}_reference"].values
                span = np.nanmax(r) - np.nanmin(r)
                ax.set_ylim(np.nanmin(r) - 0.5 * span, np.nanmax(r) + 0.5 * span)
        axes[0, 0].legend(loc="upper right", fontsize=8)
        axes[-1, 0].set_xlabel("time")
        fig.suptitle(ds.attrs.get("title", ""))
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
