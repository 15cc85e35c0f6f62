"""The result of a physics-informed solve: prediction, error against the reference, metrics."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp
import xarray as xr
from flax import nnx

from sciml.dsl.metrics import remove_constant_offset
from sciml.dsl.point_source import at_point_sources
from sciml.dsl.symbols import field_name
from sciml.functions import lambdify


from sciml.provenance import json_default as _json_default  # noqa: E402
from sciml.provenance import versions  # noqa: E402,F401

log = logging.getLogger("sciml")


def count_parameters(model: nnx.Module) -> int:
    """Number of trainable scalars of ``model``."""
    return int(sum(np.size(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))))


def evaluation_set(problem, n_per_axis: int = 101) -> xr.Dataset | None:
    """Where a solution is evaluated and compared: the reference dataset if there is one, else
    the exact solution on a grid over the domain's bounding box (points outside are NaN), else,
    for a forward ODE problem, its classical integration on ``CLASSICAL_TIMES`` times
    (:func:`sciml.dynamics.problem.classical_reference`), for a forward evolution PDE on an
    interval or in the plane, its method-of-lines solution
    (:func:`sciml.method_of_lines.lines_reference`, :func:`sciml.finite_elements.evolution_reference`;
    ``attrs["source"]`` says which)."""
    if problem.reference is not None:
        return problem.reference
    time = problem.space_time.time
    if not problem.exact and time is not None:
        from sciml.dynamics.problem import classical_reference
        from sciml.method_of_lines import lines_reference

        classical, _ = (classical_reference if len(problem.coordinates) == 1 else lines_reference)(problem)
        if classical is None and len(problem.coordinates) == 3:  # an evolution in the plane
            from sciml.finite_elements import evolution_reference

            classical = evolution_reference(problem)
        if classical is not None:
            return classical
    lower, upper = problem.space_time.bounds()
    n = n_per_axis if len(lower) <= 2 else 41
    axes = {name: np.linspace(lo, hi, n) for name, lo, hi in zip(problem.coordinate_names, lower, upper)}
    mesh = np.meshgrid(*axes.values(), indexing="ij")
    points = np.stack([m.ravel() for m in mesh], axis=1)
    inside = problem.space_time.contains(points).reshape(mesh[0].shape)
    data = {}
    for f, expr in (problem.exact or {}).items():
        known = {p: p.value for p in problem.parameters}
        fn = lambdify(problem.coordinates, sp.sympify(expr).xreplace(known), "numpy")
        with np.errstate(all="ignore"):  # outside the domain (a hole's centre) it may be singular
            values = np.asarray(fn(*mesh), float) * np.ones(mesh[0].shape)
        data[field_name(f)] = (tuple(axes), np.where(inside, values, np.nan))
    if not data:
        return xr.Dataset(coords=axes)
    return xr.Dataset(data, coords=axes)


@dataclass
class Solution:
    """A trained surrogate for a problem, with everything needed to check and reproduce it."""

    problem: Any
    compiled: Any
    model: nnx.Module
    raw_parameters: dict
    history: dict[str, np.ndarray]
    model_name: str
    model_options: dict
    train_config: dict
    seed: int
    wall_s: float
    steps: int
    lbfgs_steps: int
    extra_metrics: dict = field(default_factory=dict)
    collocation: np.ndarray | None = None  # interior training points of the last batch

    @cached_property
    def verdict(self):
        """Whether to trust this solution, judged without any reference (:mod:`sciml.verdict`)."""
        from sciml.verdict import assess

        return assess(self)

    @property
    def parameters(self) -> dict[str, float]:
        """Identified values of the unknown parameters (physical units)."""
        phys = self.compiled.physical_parameters(self.raw_parameters)
        return {n: float(phys[n]) for n in self.compiled.unknown_parameters}

    def predict(self, points) -> np.ndarray:
        """Fields ``(n, n_fields)``, columns in ``compiled.field_names`` order, evaluated in batches.

        ``points``: an ``(n, n_coordinates)`` array, columns in ``compiled.coordinate_names``
        order, or a mapping ``{coordinate name: values}`` (values broadcast against each other).
        """
        points = self._points(points)
        dtype = jnp.float64 if jax.config.jax_enable_x64 else jnp.float32
        fn = self._predict_fn
        chunks = [np.asarray(fn(jnp.asarray(points[i : i + 65536], dtype))) for i in range(0, len(points), 65536)]
        return np.concatenate(chunks) if chunks else np.zeros((0, len(self.compiled.field_names)))

    def _points(self, points) -> np.ndarray:
        names = tuple(self.compiled.coordinate_names)
        if isinstance(points, Mapping):
            given = tuple(str(k) for k in points)
            if set(given) != set(names):
                raise ValueError(f"points name the coordinates {given}; give exactly {names}")
            try:
                columns = np.broadcast_arrays(*(np.asarray(points[k], dtype=float) for k in names))
            except ValueError as err:
                raise ValueError(f"the coordinates' values do not broadcast together ({err})") from None
            return np.stack([c.ravel() for c in columns], axis=1)
        try:
            array = np.asarray(points, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"points must be numbers: an (n, {len(names)}) array with columns {names}, or "
                             "{name: values}") from None
        if array.ndim == 1 and len(names) == 1:
            array = array[:, None]
        if array.ndim != 2 or array.shape[1] != len(names):
            raise ValueError(f"points have shape {array.shape}; give an (n, {len(names)}) array with columns {names} "
                             "(or {name: values})")
        return array

    @cached_property
    def _predict_fn(self):
        # Compiled once per solution; every evaluation (grid, metrics, plots) reuses it.
        params = self.compiled.physical_parameters(self.raw_parameters)
        return jax.jit(lambda z: self.compiled.predict(self.model, z, params))

    @cached_property
    def _evaluation(self) -> xr.Dataset:
        problem = self.problem
        ref = evaluation_set(problem)
        names = problem.coordinate_names
        out = xr.Dataset(attrs={"problem": problem.name, "model": self.model_name, "seed": self.seed,
                                **({"reference": ref.attrs["source"]} if ref is not None and "source" in ref.attrs else {})})
        if ref is None or not ref.data_vars:
            grid = ref if ref is not None else evaluation_set(problem)
            mesh = np.meshgrid(*(grid[n].values for n in names), indexing="ij")
            pts = np.stack([m.ravel() for m in mesh], axis=1)
            pred = self.predict(pts)
            pred[~problem.space_time.contains(pts)] = np.nan  # a disk's corners, a hole: not the domain
            for i, f in enumerate(self.compiled.field_names):
                out[f] = (names, pred[:, i].reshape(mesh[0].shape))
            return out.assign_coords({n: grid[n].values for n in names})
        for f in self.compiled.field_names:
            if f not in ref:
                continue
            da = ref[f]
            pts = np.stack([np.asarray(xr.broadcast(da, da[n])[1].values, float).ravel() for n in names], axis=1)
            # a point source's own point: the exact solution is infinite there
            valid = np.isfinite(da.values.ravel()) & ~at_point_sources(problem, pts)
            if not valid.all():
                da = da.copy(data=np.where(valid.reshape(da.shape), da.values, np.nan))
            pred = np.full(len(pts), np.nan)
            pred[valid] = self.predict(pts[valid])[:, self.compiled.field_names.index(f)]
            pred_da = da.copy(data=pred.reshape(da.shape))
            pred_da.attrs = {"long_name": f"{f} (prediction)"}
            out[f] = pred_da
            out[f"{f}_reference"] = da.assign_attrs(long_name=f"{f} (reference)")
            if f in self._gauge_fields:
                # Defined only up to a constant (at each time, see _gauge_dims): compare after
                # removing the mean difference.
                over = self._gauge_dims(f, da)
                if len(over) == len(da.dims):
                    shifted = da.copy(data=remove_constant_offset(pred_da.values, da.values).reshape(da.shape))
                else:
                    shifted = pred_da - (pred_da - da).mean(dim=over, skipna=True)
                out[f"{f}_error"] = (shifted - da).assign_attrs(
                    long_name=f"{f} prediction - reference, up to an additive constant"
                    + (" at each time" if len(over) < len(da.dims) else ""))
            else:
                out[f"{f}_error"] = (pred_da - da).assign_attrs(long_name=f"{f} prediction - reference")
        return out

    @property
    def _gauge_fields(self) -> tuple[str, ...]:
        return tuple(getattr(self.problem, "gauge_fixed_fields", ()))

    def _gauge_dims(self, name: str, da: xr.DataArray) -> list[str]:
        """The dimensions over which a gauge field's constant is one: all of them, but in an
        evolution whose equations hold the field only through derivatives in space (the pressure
        of incompressible flow) its constant is free at each time (a function of time), so all
        but time."""
        time = self.problem.space_time.time
        if time is None or str(time.coordinates[0]) not in da.dims:
            return list(da.dims)
        t = time.coordinates[0]
        if any(t in d.variables and field_name(d.expr) == name for r in self.problem.residuals
               for d in r.atoms(sp.Derivative)):
            return list(da.dims)
        return [d for d in da.dims if d != str(t)]

    def to_xarray(self) -> xr.Dataset:
        """Prediction, reference and error on the evaluation grid, with named coordinates.

        Every variable and coordinate carries ``long_name`` and ``units`` (the problem's declared
        units, else the reference data's, else ``"1"`` with a ``units_note`` saying so).
        """
        ds = self._evaluation
        for name in [*ds.coords, *ds.data_vars]:
            base = str(name).removesuffix("_reference").removesuffix("_error")
            attrs = ds[name].attrs
            attrs.setdefault("long_name", str(name))
            if "units" not in attrs:
                units = self._declared_units().get(base)
                attrs["units"] = units or "1"
                if not units:
                    attrs["units_note"] = "no units declared by the problem or its reference; nondimensional assumed"
        return ds

    def _declared_units(self) -> dict[str, str]:
        from sciml.dsl.symbols import units_of

        out = {}
        ref = self.problem.reference
        for name in [*self.compiled.coordinate_names, *self.compiled.field_names]:
            if ref is not None and name in ref.variables and "units" in ref[name].attrs:
                out[name] = str(ref[name].attrs["units"])
        for c in self.problem.coordinates:
            if units_of(c):
                out[c.name] = units_of(c)
        for expr in self.problem.residuals:
            for f in expr.atoms(sp.core.function.AppliedUndef):
                if units_of(f):
                    out[field_name(f)] = units_of(f)
        return out

    def error_metrics(self) -> dict[str, float]:
        ds = self._evaluation
        errors, references = {}, {}
        for f in self.compiled.field_names:
            if f"{f}_error" not in ds:
                continue
            r = ds[f"{f}_reference"]
            if f in self._gauge_fields:  # the reference's own fluctuation, free of its constant
                r = r - r.mean(dim=self._gauge_dims(f, r), skipna=True)
            errors[f] = float(np.linalg.norm(np.nan_to_num(ds[f"{f}_error"].values)))
            references[f] = float(np.linalg.norm(np.nan_to_num(r.values)))
        if not errors:
            return {}
        total = float(np.sqrt(sum(v**2 for v in references.values())))
        # A field whose reference vanishes (the cross-stream velocity of a channel flow) has no size
        # of its own: its error is measured against all the fields' together, and said so.
        vanishing = [f for f, r in references.items() if r <= 1e-12 * total]
        out = {f: errors[f] / max(total if f in vanishing else references[f], 1e-300) for f in errors}
        gauge = {"compared_up_to_constant": [f for f in out if f in self._gauge_fields]} if self._gauge_fields else {}
        return {"rel_l2": float(np.sqrt(sum(e**2 for e in errors.values())) / max(total, 1e-300)),
                "rel_l2_by_field": out, **gauge,
                **({"relative_to_all_fields": vanishing} if vanishing else {}),
                "max_abs_error": float(max(np.nanmax(np.abs(ds[f"{f}_error"].values)) for f in out))}

    @cached_property
    def metrics(self) -> dict[str, Any]:
        final = {k: float(v[-1]) for k, v in self.history.items() if k not in ("phase", "loss") and len(v)}
        m: dict[str, Any] = {
            "problem": self.problem.name,
            "model": self.model_name,
            **self.error_metrics(),
            **({"reference": self._evaluation.attrs["reference"]} if "reference" in self._evaluation.attrs else {}),
            "losses": final,
            "loss": float(self.history["loss"][-1]) if len(self.history["loss"]) else None,
            "parameters": self.parameters,
            **({"parameter_units": units} if (units := {p.name: p.units for p in self.problem.parameters
                                                         if p.learn and p.units}) else {}),
            "wall_s": round(self.wall_s, 3),
            # every trained scalar: the surrogate's, the unknown terms' networks, learned parameters
            "n_params": count_parameters(self.model) + sum(int(np.size(a)) for a in jax.tree.leaves(self.raw_parameters)),
            "steps": self.steps,
            "lbfgs_steps": self.lbfgs_steps,
            "seed": self.seed,
            "model_options": self.model_options,
            "train": self.train_config,
            "versions": versions(),
            "verdict": self.verdict.as_dict(),
        }
        m.update(self.extra_metrics)
        return m

    def history_dataset(self) -> xr.Dataset:
        """Loss terms against the step, as a dataset (dimension ``step``)."""
        steps = np.arange(1, len(self.history["loss"]) + 1)
        data = {
            k: ("step", np.asarray(v, float), {
                "long_name": "weighted total loss" if k == "loss" else f"mean squared residual of {k}",
                "units": "1",
                "units_note": "losses are computed on the nondimensionalised problem"})
            for k, v in self.history.items() if k != "phase"
        }
        coords = {"step": ("step", steps, {"long_name": "optimiser step (Adam, then L-BFGS)", "units": "1"}),
                  "phase": ("step", np.asarray(self.history["phase"], dtype=str),
                            {"long_name": "optimiser of the step"})}
        return xr.Dataset(data, coords=coords, attrs={"problem": self.problem.name, "model": self.model_name,
                                                      "seed": self.seed})

    def write(self, out: str | Path) -> Path:
        """Write ``solution.nc``, ``metrics.json``, ``history.nc`` and ``plot.png`` to ``out``."""
        from sciml.plotting import plot_solution

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        ds = self.to_xarray()
        if self.metrics.get("rel_l2") is not None:  # without a reference there is no error to record
            ds.attrs["rel_l2"] = float(self.metrics["rel_l2"])
        ds.to_netcdf(out / "solution.nc", engine="h5netcdf")
        self.history_dataset().to_netcdf(out / "history.nc", engine="h5netcdf")
        try:
            plot_solution(self, out / "plot.png")
        except Exception as error:  # a figure that cannot be drawn must not cost the run's results
            log.warning("plot.png not written (%s: %s); the results are in solution.nc and metrics.json",
                        type(error).__name__, error)
        # metrics.json marks a finished run (sciml.run_folder): written last, atomically.
        tmp = out / "metrics.json.tmp"
        tmp.write_text(json.dumps(self.metrics, indent=2, default=_json_default) + "\n")
        os.replace(tmp, out / "metrics.json")
        return out


