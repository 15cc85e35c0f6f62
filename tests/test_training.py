"""Training: reproducibility, checkpoint/resume, NaN detection, sharded batches."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp
import xarray as xr

import sciml
from sciml.dsl import Coordinate, Dirichlet, Field, Interval, Parameter, Problem
from sciml.training.engine import TrainingDiverged

x = Coordinate("x")
line = Interval(x, 0, 1)
u = Field("u", x)


def poisson1d(**kw):
    return Problem("p1", line, [u.diff(x, 2) + sp.pi**2 * sp.sin(sp.pi * x)],
                   conditions=[Dirichlet(u, 0, on=line.boundary)], exact={u: sp.sin(sp.pi * x)}, **kw)


SMALL = dict(model_options={"hidden": (16, 16)}, points={"interior": 128, "boundary": 16}, chunk=25, progress=False)


def solve(*args, **kw):
    """sciml.solve without the recipe's L-BFGS phase unless a test asks for one (fast tests)."""
    kw.setdefault("lbfgs_steps", 0)
    return sciml.solve(*args, **kw)


def params_of(solution):
    from flax import nnx
    import jax

    return [np.asarray(a) for a in jax.tree.leaves(nnx.state(solution.model, nnx.Param))]


def test_same_seed_same_numbers():
    a = solve(poisson1d(), steps=100, seed=3, resample_every=50, **SMALL)
    b = solve(poisson1d(), steps=100, seed=3, resample_every=50, **SMALL)
    for pa, pb in zip(params_of(a), params_of(b)):
        np.testing.assert_array_equal(pa, pb)
    c = solve(poisson1d(), steps=100, seed=4, resample_every=50, **SMALL)
    assert not np.array_equal(params_of(a)[0], params_of(c)[0])


def test_training_reduces_error():
    # The boundary condition as a loss term (the recipe would otherwise impose it exactly).
    sol = solve(poisson1d(), steps=600, lbfgs_steps=100, learning_rate=5e-3, seed=0, exact_conditions=False, **SMALL)
    assert sol.metrics["rel_l2"] < 1e-2
    assert set(sol.metrics["losses"]) == {"residual", "dirichlet:u#0"}


@pytest.mark.slow  # 80 s; run by .ci/run after the default suite
def test_resume_gives_the_same_result_as_an_uninterrupted_run(tmp_path):
    # A constant learning rate: the run is extended on resume, and a decaying schedule depends
    # on the total step count.
    kw = dict(seed=1, resample_every=50, rar_every=50, rar_add=8, rar_candidates=256, lbfgs_steps=50,
              checkpoint_every=50, final_learning_rate=None, **SMALL)
    straight = solve(poisson1d(), steps=150, out=tmp_path / "straight", **kw)
    # Interrupt: the first run stops after 100 Adam steps and no L-BFGS, then resumes.
    first = dict(kw, lbfgs_steps=0)
    solve(poisson1d(), steps=100, out=tmp_path / "split", **first)
    resumed = solve(poisson1d(), steps=150, out=tmp_path / "split", resume=True, **kw)
    for pa, pb in zip(params_of(straight), params_of(resumed)):
        np.testing.assert_array_equal(pa, pb)
    assert resumed.steps == 150 and resumed.lbfgs_steps == 50
    assert len(resumed.history["loss"]) == len(straight.history["loss"])


def test_nan_is_reported_with_the_term_that_blew_up():
    data = xr.Dataset({"u": ("point", [0.5, 1e30])}, coords={"x": ("point", [0.3, 0.6])})
    with pytest.raises(TrainingDiverged, match=r"'data:u'.*step \d+"):
        solve(poisson1d(data=data), steps=50, seed=0, learning_rate=1e3, **SMALL)


@pytest.mark.slow  # 38 s; run by .ci/run after the default suite
def test_inverse_parameter_is_identified():
    k = Parameter("k", 2.0, learn=True, positive=True)
    xs = np.linspace(0, 1, 41)
    data = xr.Dataset({"u": ("x", np.sin(np.pi * xs))}, coords={"x": xs})
    p = Problem("inv", line, [u.diff(x, 2) + k * sp.sin(sp.pi * x)], conditions=[Dirichlet(u, 0, on=line.boundary)], data=data)
    sol = solve(p, steps=1500, lbfgs_steps=200, learning_rate=5e-3, seed=0, **SMALL)
    assert abs(sol.parameters["k"] / np.pi**2 - 1) < 0.02


def test_gradnorm_weighting_runs_and_changes_weights():
    from sciml.dsl.compile import compile_problem
    from sciml.models import build_model
    from sciml.training.config import TrainConfig
    from sciml.training.trainer import Trainer

    c = compile_problem(poisson1d())
    cfg = TrainConfig(steps=100, weighting="gradnorm", chunk=25, progress=False, points={"interior": 64, "boundary": 8})
    out = Trainer(c, build_model("mlp", 1, 1, hidden=(8,)), cfg).run()
    assert out.weights != {"residual": 1.0, "dirichlet:u#0": 1.0}
    assert all(w > 0 for w in out.weights.values())


def test_batch_is_sharded_across_devices(tmp_path):
    script = (
        "import jax, sciml, sympy as sp, json\n"
        "from sciml.dsl import *\n"
        "x = Coordinate('x'); line = Interval(x, 0, 1); u = Field('u', x)\n"
        "p = Problem('p', line, [u.diff(x, 2) + sp.pi**2*sp.sin(sp.pi*x)], conditions=[Dirichlet(u, 0, on=line.boundary)])\n"
        "from sciml.dsl.compile import compile_problem\n"
        "from sciml.models import build_model\n"
        "from sciml.training.trainer import Trainer\n"
        "from sciml.training.config import TrainConfig\n"
        "tr = Trainer(compile_problem(p), build_model('mlp', 1, 1, hidden=(8,)), TrainConfig(steps=20, chunk=10, progress=False, points={'interior': 64, 'boundary': 8}))\n"
        "tr.extra = __import__('numpy').zeros((0, 1), 'float32'); b = tr._sample(0, tr.extra)\n"
        "out = tr.run()\n"
        "print(json.dumps({'devices': jax.device_count(), 'shards': len(b['interior']['z'].sharding.device_set), 'loss': float(out.history['loss'][-1])}))\n"
    )
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2")
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    info = json.loads(res.stdout.strip().splitlines()[-1])
    assert info["devices"] == 2 and info["shards"] == 2 and np.isfinite(info["loss"])


@pytest.mark.slow  # 75 s; run by .ci/run after the default suite
def test_kan_grid_schedule_extends_during_training_and_resumes_exactly(tmp_path):
    kw = dict(model="kan", model_options={"hidden": (4,), "grid": 3}, points={"interior": 64, "boundary": 8},
              chunk=20, progress=False, seed=0, grid_schedule=[[40, 6]], checkpoint_every=20,
              final_learning_rate=None)  # constant rate: the run is extended on resume
    straight = solve(poisson1d(), steps=80, out=tmp_path / "a", **kw)
    assert straight.model.layers[0].grid_size == 6 if hasattr(straight.model.layers[0], "grid_size") else True
    n_before = sum(np.size(p) for p in params_of(solve(poisson1d(), steps=20, **{**kw, "grid_schedule": []})))
    assert sum(np.size(p) for p in params_of(straight)) > n_before
    # Stopped after the extension, and exactly at its step (the checkpoint precedes it).
    for stop in (60, 40):
        solve(poisson1d(), steps=stop, out=tmp_path / f"b{stop}", **kw)
        resumed = solve(poisson1d(), steps=80, out=tmp_path / f"b{stop}", resume=True, **kw)
        for pa, pb in zip(params_of(straight), params_of(resumed)):
            np.testing.assert_array_equal(pa, pb)


def test_model_callbacks_change_the_surrogate_at_their_steps():
    from sciml.dsl.compile import compile_problem
    from sciml.models import build_model
    from sciml.training.callbacks import ModelCallback
    from sciml.training.config import TrainConfig
    from sciml.training.trainer import Trainer

    class Widen:
        """A wider network from step 20 on."""

        steps = (20,)

        def __init__(self):
            self.calls = []

        def __call__(self, model, step, inputs):
            self.calls.append((step, inputs.shape))
            return build_model("mlp", 1, 1, hidden=(12,), seed=1)

    widen = Widen()
    assert isinstance(widen, ModelCallback)
    c = compile_problem(poisson1d())
    points = {"interior": 64, "boundary": 8}
    cfg = TrainConfig(steps=40, chunk=25, progress=False, points=points)
    out = Trainer(c, build_model("mlp", 1, 1, hidden=(8,)), cfg, callbacks=[widen]).run()
    assert widen.calls == [(20, (64, 1))]  # the chunk of 25 steps ends at the callback's step
    assert 12 in params_of(out)[0].shape and len(out.history["loss"]) == 40
    cfg = TrainConfig(steps=20, chunk=10, progress=False, points=points, grid_schedule=[[10, 6]])
    with pytest.raises(ValueError, match="grid_schedule needs a KAN surrogate, got MLP"):
        Trainer(c, build_model("mlp", 1, 1, hidden=(8,)), cfg).run()


def test_refinement_and_resampling_happen_at_their_steps_whatever_the_chunk(monkeypatch):
    """RAR and resampling are engine callbacks: the compiled chunks end at their steps, so a
    schedule that is no multiple of the chunk is kept exactly."""
    from sciml.dsl.compile import compile_problem
    from sciml.models import build_model
    from sciml.training.config import TrainConfig
    from sciml.training.trainer import Trainer

    draws, refined = [], []
    sample, refine = Trainer._sample, Trainer._refine
    monkeypatch.setattr(Trainer, "_sample", lambda self, index, extra, growth=1: (
        draws.append((index, len(extra))), sample(self, index, extra, growth))[1])
    monkeypatch.setattr(Trainer, "_refine", lambda self, trainable, step: (
        refined.append(step), refine(self, trainable, step))[1])
    cfg = TrainConfig(steps=90, chunk=25, progress=False, points={"interior": 64, "boundary": 8},
                      resample_every=30, rar_every=45, rar_add=4, rar_candidates=64)
    out = Trainer(compile_problem(poisson1d()), build_model("mlp", 1, 1, hidden=(8,)), cfg).run()
    assert refined == [45]
    # step 0, 30, 45 (the refined set on the same draw), 60; the last batch carries the 4 added points
    assert draws[:4] == [(0, 0), (1, 0), (1, 4), (2, 4)] and len(out.history["loss"]) == 90


def test_lbfgs_memory_is_validated_and_used():
    with pytest.raises(ValueError, match="lbfgs_memory must be >= 1"):
        solve(poisson1d(), steps=10, lbfgs_steps=10, lbfgs_memory=0, **SMALL)
    sol = solve(poisson1d(), steps=300, lbfgs_steps=100, lbfgs_memory=50, learning_rate=5e-3, seed=0, **SMALL)
    assert sol.metrics["rel_l2"] < 1e-2


@pytest.mark.slow  # 67 s; run by .ci/run after the default suite
def test_dense_self_scaled_bfgs_phase_trains_and_resumes_exactly(tmp_path):
    with pytest.raises(ValueError, match="quasi_newton must be one of lbfgs, bfgs, ssbfgs"):
        solve(poisson1d(), steps=10, lbfgs_steps=10, quasi_newton="newton", **SMALL)
    kw = dict(seed=0, learning_rate=5e-3, quasi_newton="ssbfgs", **SMALL)
    straight = solve(poisson1d(), steps=200, lbfgs_steps=50, out=tmp_path / "straight", **kw)
    assert straight.metrics["rel_l2"] < 1e-3
    solve(poisson1d(), steps=200, lbfgs_steps=25, out=tmp_path / "split", **kw)
    resumed = solve(poisson1d(), steps=200, lbfgs_steps=50, out=tmp_path / "split", resume=True, **kw)
    for pa, pb in zip(params_of(straight), params_of(resumed)):
        np.testing.assert_array_equal(pa, pb)


def test_dense_bfgs_too_large_for_memory_is_refused_before_training():
    from sciml.training.memory import MemoryEstimateError, check_dense_hessian_memory

    with pytest.raises(MemoryEstimateError, match="quasi_newton=lbfgs"):
        check_dense_hessian_memory(10**6, 4)
    assert check_dense_hessian_memory(1000, 8, available=10**9) == 24 * 10**6
