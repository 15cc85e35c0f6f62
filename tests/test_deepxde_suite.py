"""The DeepXDE comparison's scoring and table (benchmarks/deepxde_suite.py, pde_suite.py), without
DeepXDE: its figures must be computed where and as sciml's own are."""

import importlib
import sys

import numpy as np
import pytest

import sciml
from sciml.result import evaluation_set


@pytest.fixture(scope="module")
def dde(root):
    sys.path.insert(0, str(root / "benchmarks"))
    yield importlib.import_module("deepxde_suite")
    sys.path.remove(str(root / "benchmarks"))


@pytest.fixture(scope="module")
def suite(root):
    sys.path.insert(0, str(root / "benchmarks"))
    try:
        yield importlib.import_module("pde_suite")
    finally:
        sys.path.remove(str(root / "benchmarks"))


def problem(root, name):
    return sciml.load_problem(root / "problems" / f"{name}.py")


def test_points_are_the_solution_grid_and_the_exact_field_scores_zero(root, dde):
    p = problem(root, "wave1d")
    points = dde.evaluation_points(p)
    ref = evaluation_set(p)
    pts, values, valid, shape = points["u"]
    assert shape == ref["u"].shape == (101, 101) and valid.all()
    # coordinates in the problem's order (x, t), as DeepXDE's GeometryXTime takes them
    x, t = np.meshgrid(ref.x.values, ref.t.values, indexing="ij")
    np.testing.assert_array_equal(pts, np.stack([x.ravel(), t.ravel()], axis=1))
    np.testing.assert_allclose(values, np.sin(np.pi * x.ravel()) * np.cos(2 * np.pi * t.ravel())
                               + np.sin(4 * np.pi * x.ravel()) * np.cos(8 * np.pi * t.ravel()) / 2, atol=1e-12)
    assert dde.score("wave1d", {"u": values}, points)["rel_l2"] == 0.0
    assert dde.score("wave1d", {"u": 1.1 * values}, points)["rel_l2"] == pytest.approx(0.1)


def test_lshape_is_scored_on_the_l_only(root, dde):
    pts, values, valid, _ = dde.evaluation_points(problem(root, "poisson_lshape"))["u"]
    assert valid.sum() == 101 * 101 - 50 * 50  # the open quadrant (0, 1]^2 left out
    assert not np.any((pts[valid, 0] > 0) & (pts[valid, 1] > 0))
    pred = np.where(valid, values, 1e6)  # whatever a network says outside the domain is ignored
    assert dde.score("poisson_lshape", {"u": pred}, dde.evaluation_points(problem(root, "poisson_lshape")))[
        "rel_l2"] == 0.0


def test_fields_are_pooled_and_the_modulus_scored_apart(root, dde):
    points = dde.evaluation_points(problem(root, "schrodinger"))
    u, v = points["u"][1], points["v"][1]
    # a global phase: u and v wrong, |h| exact
    phase = 0.3
    pred = {"u": np.cos(phase) * u - np.sin(phase) * v, "v": np.sin(phase) * u + np.cos(phase) * v}
    s = dde.score("schrodinger", pred, points)
    assert s["rel_l2_derived"]["h"] < 1e-12
    assert s["rel_l2_by_field"]["u"] > 0.1 and s["rel_l2_by_field"]["v"] > 0.1
    # pooled as Solution.error_metrics: sqrt(sum of squared errors / sum of squared references)
    num = np.sum((pred["u"] - u) ** 2) + np.sum((pred["v"] - v) ** 2)
    assert s["rel_l2"] == pytest.approx(np.sqrt(num / (np.sum(u**2) + np.sum(v**2))))


def test_missing_venv_is_a_clear_error(dde):
    with pytest.raises(FileNotFoundError, match="benchenv-dde"):
        dde.run_deepxde("wave1d", python="/nonexistent/python")


def test_suite_table_has_the_deepxde_column(suite):
    recipe = {"kind": "recipe", "model": "mlp", "seed": 0, "rel_l2": 1e-3, "wall_s": 100.0,
              "verdict": {"status": "trusted"}, "recipe": None}
    rows = [{**recipe, "problem": "schrodinger"}, {**recipe, "problem": "heat"}, {**recipe, "problem": "wave1d"},
            {"problem": "schrodinger", "model": "deepxde", "kind": "deepxde", "seed": 0, "rel_l2": 2e-3,
             "rel_l2_derived": {"h": 1.5e-3}, "wall_s": 900.0, "steps_scale": 1.0},
            {"problem": "wave1d", "model": "deepxde", "kind": "deepxde", "seed": 0, "rel_l2": 1.2, "wall_s": 9.0,
             "smoke": True, "steps_scale": 1.0}]
    lines = {ln.split(" |")[0].strip("| "): ln for ln in suite.table(rows).splitlines()}
    assert lines["schrodinger (mlp)"].endswith("| 2.00e-03 (\\|h\\| 1.50e-03), 900 s |")
    assert lines["heat (mlp)"].endswith("| no example |")
    assert lines["wave1d (mlp)"].endswith("| not measured |")  # smoke runs are no figure


def test_a_worker_run_elsewhere_is_scored_as_here(root, dde, tmp_path):
    """--export / --collect: the scoring points travel out, a worker's log and predictions come
    back; the figures are scored on the same grid, and a grid changed since the export is refused."""
    points = dde.export_points("wave1d", tmp_path / "wave1d.points.npz")
    pts, values, valid, _ = points["u"]
    with np.load(tmp_path / "wave1d.points.npz") as sent:
        np.testing.assert_array_equal(sent["u"], pts[valid])
    np.savez(tmp_path / "wave1d.pred.npz", u=(1.05 * values[valid])[:, None])  # the worker's (n, outputs)
    figures = {"seed": 0, "wall_s": 12.0, "devices": ["NVIDIA H200"]}
    (tmp_path / "wave1d.log").write_text("Using backend: pytorch\n" + dde.MARKER + __import__("json").dumps(figures))
    (tmp_path / "wave1d.wall").write_text("13.5\n")
    f = dde.collect_exported("wave1d", tmp_path)
    assert f["rel_l2"] == pytest.approx(0.05) and f["process_wall_s"] == 13.5 and f["devices"] == ["NVIDIA H200"]
    (tmp_path / "wave1d.log").write_text("Traceback ...\nRuntimeError: CUDA out of memory\n")  # no figures
    with pytest.raises(RuntimeError, match="(?s)left no figures.*out of memory"):
        dde.collect_exported("wave1d", tmp_path)
    np.savez(tmp_path / "wave1d.points.npz", u=pts[valid][::2])
    with pytest.raises(ValueError, match="another grid"):
        dde.collect_exported("wave1d", tmp_path)


def test_the_cell_names_the_device_a_row_trained_on(suite):
    row = {"problem": "wave1d", "model": "deepxde", "kind": "deepxde", "seed": 0, "rel_l2": 0.6, "wall_s": 550.0,
           "steps_scale": 1.0, "device": "NVIDIA H200"}
    assert suite.deepxde_cell([row], "wave1d") == "6.00e-01, 550 s on NVIDIA H200"
    assert suite.deepxde_cell([{**row, "device": "cpu"}], "wave1d") == "6.00e-01, 550 s"
    cpu = {**row, "rel_l2": 0.8, "wall_s": 1000.0}
    cpu.pop("device")  # rows measured before devices were recorded ran on this suite's CPUs
    assert suite.deepxde_cell([row, cpu], "wave1d") == "8.00e-01, 1000 s; 6.00e-01, 550 s on NVIDIA H200"
