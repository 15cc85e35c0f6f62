"""benchmarks/surrogates.py keeps working: its machinery on a tiny ODE problem, one model of
each kind (the quickest of each to compile) for two steps, a failing run recorded as failed,
and the table from the JSON."""

import importlib.util
import json
import math
import pathlib

import numpy as np
import pytest
import xarray as xr

from sciml.dsl import Coordinate, Field, Problem, TimeInterval

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("surrogates_benchmark", ROOT / "benchmarks" / "surrogates.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def oscillator():
    """x' = y, y' = -x: data on [0, 1], reference and domain to 2 (a span longer than the data,
    as in the benchmark's problems), so the two error figures differ."""
    t = Coordinate("t")
    x, y = Field("x", t), Field("y", t)

    def states(ts):
        return xr.Dataset({"x": (("trajectory", "t"), np.cos(ts)[None]), "y": (("trajectory", "t"), -np.sin(ts)[None])},
                          coords={"trajectory": [0], "t": ts})

    return Problem(name="oscillator", domain=TimeInterval(t, 0, 2), equations=[x.diff(t) - y, y.diff(t) + x],
                   data=states(np.linspace(0, 1, 11)), reference=states(np.linspace(0, 2, 21)))


def test_one_model_of_each_kind_and_a_failure(bench, oscillator, tmp_path):
    path = tmp_path / "oscillator.py"
    rows = [bench.measure("oscillator", path, model, 0, time_budget=5.0, smoke=True, problem=oscillator)
            for model in ("mlp", "ltc")]
    for row in rows:
        assert "error" not in row, row.get("traceback")
        assert math.isfinite(row["rel_l2_span"]) and math.isfinite(row["rel_l2_data_window"])
        assert row["span"] == [0.0, 2.0] and row["data_window"] == [0.0, 1.0]
        # The benchmark's own figure is the library's, measured the same way.
        assert row["rel_l2_span"] == pytest.approx(row["library_rel_l2"], rel=1e-6)
        assert row["n_params"] > 0 and row["wall_s"] >= 0 and len(row["load_start"]) == 3
        assert row["revision"]
    mlp, ltc = rows
    assert mlp["kind"] == "collocation" and mlp["status"] in ("trusted", "doubtful") and mlp["time_budget_s"] == 5.0
    assert ltc["kind"] == "trajectory" and ltc["status"] in ("trusted", "doubtful")

    failed = bench.measure("oscillator", path, "cfc", 0, smoke=True, problem=oscillator.__class__(
        name="no_data", domain=oscillator.domain, equations=oscillator.equations, reference=oscillator.reference))
    assert failed["status"] == "error" and "data" in failed["error"] and "rel_l2_span" not in failed

    out = tmp_path / "surrogates.json"
    rows = [{**r, "smoke": False} for r in [*rows, failed]]  # the table leaves smoke rows out
    out.write_text(json.dumps({"runs": rows}))
    text = bench.table(rows)
    assert text.count("\n") == 2 + len(rows) - 1
    assert "| oscillator | cfc | 0 | failed | failed |" in text and f"| {ltc['status']} |" in text
    bench.main(["--table-only", "--out", str(out)])
