"""Hardening of `solve`: no lost work, no silent overwrite, a clear answer to every bad input.

One test per finding of the outside probe (named after it); each fails on the behaviour it
replaces.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import sympy as sp
import xarray as xr

import sciml
from sciml.cli import main
from sciml.dsl import Coordinate, Dirichlet, Field, Interval, Parameter, Problem, ProblemError
from sciml.run_folder import RunFolderError
from sciml.training.checkpoint import CheckpointError
from sciml.training.memory import MemoryEstimateError, check_batch_memory
from sciml.training.engine import TrainingDiverged

x = Coordinate("x", units="m")
line = Interval(x, 0, 1)
u = Field("u", x, units="K")
TINY = dict(model_options={"hidden": (8, 8)}, points={"interior": 64, "boundary": 8}, chunk=20, progress=False)


def solve(*args, **kw):
    """sciml.solve without the recipe's L-BFGS phase unless a test asks for one (fast tests)."""
    kw.setdefault("lbfgs_steps", 0)
    return sciml.solve(*args, **kw)


def poisson1d(name="p1", **kw):
    return Problem(name, line, [u.diff(x, 2) + sp.pi**2 * sp.sin(sp.pi * x)],
                   conditions=[Dirichlet(u, 0, on=line.boundary)], exact={u: sp.sin(sp.pi * x)}, **kw)


HEAT_SMALL = ["--steps", "40", "--lbfgs-steps", "0", "--hidden", "8,8", "--train",
              'points={"interior": 64, "boundary": 16}', "--train", "chunk=20", "--no-progress"]


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "sciml.cli", *args], capture_output=True, text=True,
                          timeout=600, **kw)


# ------------------------------------------------------------------ lost work


def test_checkpoint_every_n_seconds_by_default(tmp_path):
    from sciml.training.config import TrainConfig

    assert TrainConfig().checkpoint_seconds > 0, "periodic checkpoints must be on by default"
    out = tmp_path / "run"
    sol = solve(poisson1d(), steps=60, out=out, checkpoint_seconds=1e-9, **TINY)
    assert (out / "checkpoint.msgpack").is_file() and sol.steps == 60


def test_sigint_leaves_a_resumable_checkpoint(tmp_path, root):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "sciml.cli", "solve", str(root / "problems" / "heat.py"),
                             "--out", str(out), *HEAT_SMALL[:-1], "--steps", "100000", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    log = ""
    while time.time() < deadline:  # wait for training to be under way (the start-up line)
        time.sleep(2)
        if out.exists() and proc.poll() is None:
            break
    time.sleep(8)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=240)
    log = err
    assert proc.returncode == 130, log[-2000:]
    assert "--resume" in log and "Traceback" not in log
    assert (out / "checkpoint.msgpack").is_file()
    assert not (out / "metrics.json").exists()
    from sciml.training.checkpoint import load_checkpoint

    assert int(load_checkpoint(out / "checkpoint.msgpack")["values"]["step"]) > 0


def test_resume_without_checkpoint_names_the_folder(tmp_path):
    with pytest.raises(RunFolderError, match=f"nothing to resume in {tmp_path / 'empty'}"):
        solve(poisson1d(), steps=20, out=tmp_path / "empty", resume=True, **TINY)


def test_resume_on_a_finished_run_says_already_complete(tmp_path, caplog):
    out = tmp_path / "run"
    first = solve(poisson1d(), steps=40, out=out, **TINY)
    stamp = (out / "metrics.json").stat().st_mtime_ns
    with caplog.at_level("WARNING", logger="sciml"):
        again = solve(poisson1d(), steps=40, out=out, resume=True, **TINY)
    assert "already complete" in caplog.text
    assert (out / "metrics.json").stat().st_mtime_ns == stamp, "outputs kept unless asked"
    assert again.metrics["rel_l2"] == first.metrics["rel_l2"]
    solve(poisson1d(), steps=40, out=out, resume=True, overwrite=True, **TINY)
    assert (out / "metrics.json").stat().st_mtime_ns != stamp


def test_steps_zero_does_not_crash(tmp_path):
    sol = solve(poisson1d(), steps=0, out=tmp_path / "run", **TINY)
    assert sol.steps == 0 and sol.metrics["loss"] is None and (tmp_path / "run" / "metrics.json").is_file()


def test_resume_with_another_seed_is_refused(tmp_path):
    out = tmp_path / "run"
    solve(poisson1d(), steps=20, lbfgs_steps=0, out=out, seed=0, **TINY)
    with pytest.raises(CheckpointError, match=r"seed: 0 in the checkpoint, 1 now"):
        solve(poisson1d(), steps=40, out=out, seed=1, resume=True, **TINY)
    with pytest.raises(CheckpointError, match=r"model_options"):
        solve(poisson1d(), steps=40, out=out, seed=0, resume=True,
                    **{**TINY, "model_options": {"hidden": (4, 4)}})
    with pytest.raises(CheckpointError, match=r"problem"):
        solve(poisson1d("other"), steps=40, out=out, seed=0, resume=True, **TINY)
    meta = json.loads((out / "metrics.json").read_text())
    assert meta["seed"] == 0


# ------------------------------------------------------------------ output folders


def test_second_run_into_the_same_out_is_refused(tmp_path):
    out = tmp_path / "run"
    solve(poisson1d(), steps=20, out=out, **TINY)
    with pytest.raises(RunFolderError, match="already holds a finished run.*--overwrite"):
        solve(poisson1d(), steps=20, out=out, **TINY)
    solve(poisson1d(), steps=30, out=out, overwrite=True, **TINY)
    assert json.loads((out / "metrics.json").read_text())["steps"] == 30


def test_out_that_is_a_file_fails_before_training(tmp_path):
    target = tmp_path / "file"
    target.write_text("not a folder")
    start = time.perf_counter()
    with pytest.raises(RunFolderError, match="is a file"):
        solve(poisson1d(), steps=100000, out=target, **TINY)
    assert time.perf_counter() - start < 30


def test_out_that_cannot_be_written_fails_before_training(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    with pytest.raises(RunFolderError, match="cannot write to the output folder"):
        solve(poisson1d(), steps=100000, out=blocker / "inside", **TINY)


# ------------------------------------------------------------------ memory


def test_absurd_point_count_is_refused_before_allocation():
    with pytest.raises(MemoryEstimateError, match=r"interior collocation points.*GiB.*points="):
        solve(poisson1d(), steps=10, **{**TINY, "points": {"interior": 10**9}})


def test_memory_estimate_grows_with_derivative_order_and_points():
    from flax import nnx

    from sciml.models import build_model

    net = build_model("mlp", 1, 1, seed=0, hidden=(32, 32))
    low = check_batch_memory({"interior": 1000}, 0, [u.diff(x)], 1, net, 4, available=2**40)
    high = check_batch_memory({"interior": 1000}, 0, [u.diff(x, 3)], 1, net, 4, available=2**40)
    more = check_batch_memory({"interior": 2000}, 0, [u.diff(x)], 1, net, 4, available=2**40)
    assert high > low and more == pytest.approx(2 * low, rel=0.01)
    assert isinstance(net, nnx.Module)


# ------------------------------------------------------------------ misleading errors


def test_nan_parameter_value_is_rejected_at_build():
    with pytest.raises(ProblemError, match="parameter 'k' has the value nan"):
        Parameter("k", float("nan"))
    with pytest.raises(ProblemError, match="inf"):
        Parameter("k", float("inf"), learn=True)


def test_nan_message_names_parameters_and_no_missing_checkpoint(tmp_path):
    k = Parameter("k", 1.0, learn=True)
    data = xr.Dataset({"u": ("point", [0.5, 1e30])}, coords={"x": ("point", [0.3, 0.6])})
    problem = Problem("p1", line, [u.diff(x, 2) + k * sp.pi**2 * sp.sin(sp.pi * x)],
                      conditions=[Dirichlet(u, 0, on=line.boundary)], data=data)
    with pytest.raises(TrainingDiverged) as err:
        solve(problem, steps=200, seed=0, learning_rate=1e3, checkpoint_seconds=0,
                    out=tmp_path / "run", **{**TINY, "chunk": 200})
    message = str(err.value)
    assert "'data:u'" in message and "k=" in message
    assert "no checkpoint was written" in message and "checkpoint.msgpack" not in message


def test_problem_path_that_is_a_folder_is_a_clear_error(tmp_path):
    res = cli("solve", str(tmp_path), "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "is a folder, not a problem file" in res.stderr
    assert "Traceback" not in res.stderr and "loader" not in res.stderr


@pytest.mark.parametrize("args, message", [
    (["--hidden", "abc"], "--hidden expects comma-separated positive integers"),
    (["--hidden", "8,-1"], "--hidden expects comma-separated positive integers"),
    (["--train", 'points={"interior": -5}'], "points['interior'] must be an integer >= 1, got -5"),
    (["--train", "chunk=0"], "chunk must be an integer >= 1"),
])
def test_bad_cli_values_are_named(tmp_path, root, args, message):
    res = cli("solve", str(root / "problems" / "heat.py"), "--out", str(tmp_path / "o"), *args)
    assert res.returncode == 2, res.stderr[-2000:]
    assert message in res.stderr and "Traceback" not in res.stderr


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    out = tmp_path / "run"
    solve(poisson1d(), steps=20, out=out, **TINY)
    (out / "metrics.json").unlink()
    (out / "checkpoint.msgpack").write_bytes((out / "checkpoint.msgpack").read_bytes()[:100])
    with pytest.raises(CheckpointError, match="is unreadable.*--overwrite"):
        solve(poisson1d(), steps=40, out=out, resume=True, **TINY)


def test_catalogue_name_wins_over_a_local_file(tmp_path):
    (tmp_path / "heat").write_text("raise SystemExit('the local file ran')\n")
    res = cli("solve", "heat", "--out", str(tmp_path / "o"), *HEAT_SMALL, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "the local file ran" not in res.stderr


# ------------------------------------------------------------------ outputs


def test_every_output_variable_has_units_and_long_name(tmp_path):
    out = tmp_path / "run"
    solve(poisson1d(), steps=20, out=out, **TINY)
    for name in ("solution.nc", "history.nc"):
        ds = xr.open_dataset(out / name)
        for var in [*ds.data_vars, *ds.coords]:
            if ds[var].dtype.kind in "fiu":
                assert "units" in ds[var].attrs and "long_name" in ds[var].attrs, (name, var)
    sol = xr.open_dataset(out / "solution.nc")
    assert sol["x"].attrs["units"] == "m" and sol["u"].attrs["units"] == "K"


def test_plot_legend_matches_what_ran():
    from sciml.plotting import loss_title

    assert loss_title(["adam"] * 5) == "loss terms (Adam)"
    assert "L-BFGS" in loss_title(["adam", "lbfgs"]) and "Adam" in loss_title(["adam", "lbfgs"])
    assert loss_title([]) == "no training steps"


@pytest.mark.slow  # three command-line solves: two minutes on 2 cores (CI's slow pass runs it)
def test_start_up_line_progress_lines_and_quiet(tmp_path, root):
    loud = cli("solve", str(root / "problems" / "heat.py"), "--out", str(tmp_path / "a"), *HEAT_SMALL,
               "--train", "progress_seconds=1e-9")
    assert loud.returncode == 0, loud.stderr[-2000:]
    assert "mlp with" in loud.stderr and "interior points" in loud.stderr  # start-up line
    assert "step 20/40" in loud.stderr  # progress line with the bar off
    quiet = cli("--quiet", "solve", str(root / "problems" / "heat.py"), "--out", str(tmp_path / "b"), *HEAT_SMALL,
                "--train", "progress_seconds=1e-9")
    assert quiet.returncode == 0 and "step 20/40" not in quiet.stderr and "mlp with" not in quiet.stderr
    verbose = cli("--verbose", "solve", str(root / "problems" / "heat.py"), "--out", str(tmp_path / "c"),
                  *HEAT_SMALL, "--train", "checkpoint_seconds=1e-9")
    assert verbose.returncode == 0 and "checkpoint at step 20" in verbose.stderr


def test_main_returns_2_for_run_folder_errors(tmp_path, root, capsys):
    (tmp_path / "f").write_text("")
    assert main(["solve", str(root / "problems" / "heat.py"), "--out", str(tmp_path / "f"), *HEAT_SMALL]) == 2
    assert "is a file" in capsys.readouterr().err


# ------------------------------------------------------------------ slow: killed at random


@pytest.mark.slow
def test_killed_ten_times_then_resumed_gives_the_uninterrupted_metrics(tmp_path, root):
    args = [str(root / "problems" / "heat.py"), "--steps", "60000", "--lbfgs-steps", "2000", "--hidden", "16,16",
            "--train", 'points={"interior": 256, "boundary": 32}', "--train", "chunk=20",
            "--train", "resample_every=100", "--train", "checkpoint_seconds=0.5", "--no-progress", "--seed", "3"]
    straight = cli("solve", *args, "--out", str(tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr[-2000:]
    out = tmp_path / "killed"
    checkpoint = out / "checkpoint.msgpack"
    rng = np.random.default_rng(0)
    kills = resumes = 0
    for _ in range(40):
        resume = ["--resume"] if checkpoint.is_file() else ["--overwrite"]
        resumes += resume == ["--resume"]
        before = checkpoint.stat().st_mtime_ns if checkpoint.is_file() else 0
        proc = subprocess.Popen([sys.executable, "-m", "sciml.cli", "solve", *args, "--out", str(out), *resume],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Kill at a random moment once this attempt has trained and saved (start-up takes a
        # while on a loaded machine), or during start-up on every third attempt.
        deadline = time.time() + 180
        while proc.poll() is None and time.time() < deadline and kills % 3 != 2:
            if checkpoint.is_file() and checkpoint.stat().st_mtime_ns > before:
                break
            time.sleep(0.2)
        time.sleep(float(rng.uniform(0.0, 4.0)))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
        if kills >= 10 or (out / "metrics.json").is_file():
            break
    assert kills >= 10, f"only {kills} kills before the run finished; lengthen the run"
    assert resumes >= 3, f"only {resumes} of the killed runs had a checkpoint to resume from"
    final = cli("solve", *args, "--out", str(out), "--resume")
    assert final.returncode == 0, final.stderr[-2000:]
    a = json.loads((tmp_path / "straight" / "metrics.json").read_text())
    b = json.loads((out / "metrics.json").read_text())
    for key in ("rel_l2", "loss", "losses", "steps", "lbfgs_steps", "seed"):
        assert a[key] == b[key], key


# ------------------------------------------------------------------ verdict and reloading


class _ExactSine:
    """A 'surrogate' that is the exact solution sin(pi x) of poisson1d (inputs scaled to [-1, 1])."""

    def __new__(cls):
        from flax import nnx
        import jax.numpy as jnp

        class Exact(nnx.Module):
            def __init__(self):
                self.unused = nnx.Param(jnp.zeros(1))

            def __call__(self, s):
                return jnp.sin(jnp.pi * (s + 1) / 2) + 0 * self.unused[...]

        return Exact()


def test_verdict_flags_an_untrained_network_and_trusts_an_exact_solution():
    from sciml.dsl.compile import compile_problem
    from sciml.result import Solution

    starved = solve(poisson1d(), steps=5, **TINY)
    assert starved.verdict.status == "doubtful" and starved.metrics["verdict"]["reasons"]
    problem = poisson1d()
    compiled = compile_problem(problem)
    exact = Solution(problem=problem, compiled=compiled, model=_ExactSine(), raw_parameters={},
                     history={"loss": np.array([1.0, 1e-12]), "phase": np.array(["adam", "adam"])},
                     model_name="exact", model_options={}, train_config={"points": {"interior": 64}},
                     seed=0, wall_s=0.0, steps=2, lbfgs_steps=0)
    assert exact.metrics["rel_l2"] < 1e-6
    assert exact.verdict.status == "trusted", exact.verdict.reasons
    assert exact.verdict.indicators["residual"][0] < 1e-5


def test_a_finished_run_reloads_and_predicts_anywhere(tmp_path):
    out = tmp_path / "run"
    sol = solve(poisson1d(), steps=60, out=out, **TINY)
    again = sciml.load_solution(out, poisson1d())
    points = np.linspace(0, 1, 7)[:, None]
    np.testing.assert_array_equal(sol.predict(points), again.predict(points))
    # by coordinate name too, and wrong shapes or names are told apart from a model failure
    np.testing.assert_array_equal(again.predict({"x": points[:, 0]}), again.predict(points[:, 0]))
    with pytest.raises(ValueError, match=r"give exactly \('x',\)"):
        again.predict({"y": points[:, 0]})
    with pytest.raises(ValueError, match=r"give an \(n, 1\) array with columns \('x',\)"):
        again.predict(np.zeros((3, 2)))
    with pytest.raises(RunFolderError, match="holds a run of 'p1', not of 'other'"):
        sciml.load_solution(out, poisson1d("other"))
    with pytest.raises(RunFolderError, match="holds no finished run"):
        sciml.load_solution(tmp_path / "nothing", poisson1d())
