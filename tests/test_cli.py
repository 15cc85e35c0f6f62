"""The sciml command: catalogue, solve outputs, and readable errors for user mistakes."""

import importlib
import json
import subprocess
import sys

import pytest
import xarray as xr

from sciml.cli import main
from sciml.solver import catalogue


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "sciml.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_list_shows_the_catalogue(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("burgers", "burgers_inverse", "poisson2d", "heat"):
        assert name in out
    assert "mlp" in out
    assert all(desc for _, desc in catalogue().values()), "every problem file needs a docstring"


@pytest.mark.parametrize("source, message", [
    ("problem = 42\n", "not a sciml Problem"),
    ("x = 1\n", "defines no module-level `problem`"),
    ("from sciml.dsl import *\nx = Coordinate('x')\nu = Field('u', x)\n"
     "problem = Problem('p', Interval(x, 0, 1), [u.diff(x) - k])\nk = 1\n", "failed to run: NameError"),
    ("from sciml.dsl import *\nimport sympy as sp\nx = Coordinate('x')\nu = Field('u', x)\n"
     "problem = Problem('p', Interval(x, 0, 1), [u.diff(x) - sp.Symbol('k')])\n", "undefined symbol k"),
])
def test_bad_problem_file_gives_one_clear_error(tmp_path, source, message):
    path = tmp_path / "bad.py"
    path.write_text(source)
    res = run("solve", str(path), "--model", "mlp", "--out", str(tmp_path / "out"))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert message in res.stderr
    assert res.stderr.startswith("error:")


def test_unknown_model_is_named(tmp_path, root):
    res = run("solve", str(root / "problems" / "heat.py"), "--model", "transformer", "--out", str(tmp_path))
    assert res.returncode == 2 and "unknown model 'transformer'" in res.stderr and "mlp" in res.stderr


def test_solve_writes_solution_metrics_and_plot(tmp_path, root):
    out = tmp_path / "heat"
    res = run("solve", str(root / "problems" / "heat.py"), "--steps", "60", "--lbfgs-steps", "0", "--hidden", "8,8",
              "--train", 'points={"interior": 64, "boundary": 16}', "--train", "chunk=30", "--no-progress",
              "--seed", "0", "--out", str(out))
    assert res.returncode == 0, res.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("rel_l2", "losses", "parameters", "wall_s", "n_params", "steps", "seed", "versions"):
        assert key in metrics
    assert metrics["steps"] == 60 and metrics["seed"] == 0 and metrics["n_params"] == 2 * 8 + 8 + 8 * 8 + 8 + 8 + 1
    ds = xr.open_dataset(out / "solution.nc")
    assert {"x", "t"} <= set(ds.coords) and {"u", "u_reference", "u_error"} <= set(ds.data_vars)
    assert (out / "plot.png").stat().st_size > 10_000
    assert (out / "checkpoint.msgpack").exists()


def test_an_ode_with_learned_parameters_and_no_reference_is_plotted_and_written(tmp_path):
    """A time-only problem solved by collocation, with learned parameters and data but no
    reference: the figure holds the prediction and the parameters (it once failed to draw,
    and the run's metrics were not written)."""
    import numpy as np

    import sciml
    from sciml.dsl import Coordinate, Field, Initial, Parameter, Problem, TimeInterval

    t = Coordinate("t")
    x = Field("x", t)
    ts = np.linspace(0, 1, 11)
    problem = Problem("decay", TimeInterval(t, 0, 1), [x.diff(t) + Parameter("k", 0.2, learn=True, units="1/s") * x],
                      conditions=[Initial(x, 1.0)],
                      data=xr.Dataset({"x": ("t", np.exp(-0.5 * ts))}, coords={"t": ts}))
    sciml.solve(problem, model="mlp", steps=20, lbfgs_steps=0, model_options={"hidden": (8,)}, progress=False,
                out=tmp_path)
    assert (tmp_path / "plot.png").stat().st_size > 10_000
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert "k" in metrics["parameters"] and metrics["parameter_units"] == {"k": "1/s"}


class _Reached(Exception):
    """Raised by a stand-in solver: the command got as far as a problem's own solver."""


@pytest.mark.parametrize("file, solver, flags, options", [
    ("lotka_volterra_ude.py", "sciml.dynamics.solve.solve_ode_problem",
     ["--lr", "0.003", "--hidden", "8,8", "--no-progress"],
     {"learning_rate": 0.003, "hidden": [8, 8], "progress": False}),
    ("ethanol_md.py", "sciml.atomistic.result.train_and_evaluate",
     ["--lr", "0.003", "--train", "batch_size=5", "--option", "channels=8"],
     {"learning_rate": 0.003, "batch_size": 5, "channels": 8}),
])
def test_flags_reach_a_problems_own_solver_as_solve_options(root, tmp_path, monkeypatch, file, solver, flags,
                                                            options):
    """The command line translates its flags; the core sees only sciml.solve's option names."""
    seen = {}

    def stand_in(*args, options, **kwargs):
        seen.update(options)
        raise _Reached

    module, _, name = solver.rpartition(".")
    monkeypatch.setattr(importlib.import_module(module), name, stand_in)
    with pytest.raises(_Reached):
        main(["--debug", "solve", str(root / "problems" / file), *flags, "--out", str(tmp_path / "run")])
    assert seen == options


def test_quiet_means_no_progress_bar_either(root, tmp_path, monkeypatch):
    seen = {}

    def stand_in(*args, options, **kwargs):
        seen.update(options)
        raise _Reached

    monkeypatch.setattr(importlib.import_module("sciml.dynamics.solve"), "solve_ode_problem", stand_in)
    with pytest.raises(_Reached):
        main(["--debug", "--quiet", "solve", str(root / "problems" / "lotka_volterra_ude.py"),
              "--out", str(tmp_path / "run")])
    assert seen["progress"] is False


@pytest.mark.parametrize("file", ["heat.py", "lotka_volterra_ude.py", "ethanol_md.py"])
def test_resume_without_a_checkpoint_is_refused_before_the_folder_for_every_kind(root, tmp_path, capsys, file):
    """Collocation, trajectory models and potentials all resume; with nothing to resume from
    the run is refused before the folder is created."""
    out = tmp_path / "run"
    args = ["--model", "node"] if file.startswith("lotka") else []
    assert main(["solve", str(root / "problems" / file), *args, "--resume", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "nothing to resume" in err and "run without --resume" in err
    assert not out.exists()


def test_messages_go_to_the_stderr_of_the_moment(monkeypatch):
    import io
    import logging

    from sciml.cli import configure_logging

    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging()
    logging.getLogger("sciml").info("one")
    first.close()  # a caller running the command line in-process again replaced and closed it
    monkeypatch.setattr(sys, "stderr", second)
    configure_logging()
    logging.getLogger("sciml").info("two")
    assert second.getvalue() == "sciml: two\n"
