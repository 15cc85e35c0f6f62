"""The training engine: one fit, a custom optax optimiser, one NaN/Inf policy, exact resume."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import sympy as sp
import xarray as xr

import sciml
from sciml.dsl import Coordinate, Dirichlet, Field, Interval, Parameter, Problem, TimeInterval
from sciml.training.config import TrainConfig
from sciml.training.engine import STUCK_ITERATIONS, TrainingDiverged, averaged, averaged_params, fit

TARGET = jnp.array([1.0, -2.0, 3.0])


def quadratic(params, batch):
    error = params["w"] - TARGET
    return jnp.sum(error**2), {"fit": jnp.sum(error**2)}


def config(**kw):
    return TrainConfig.from_options({"progress": False, "chunk": 20, "checkpoint_seconds": 0.0, **kw})


def poisson1d():
    x = Coordinate("x")
    line, u = Interval(x, 0, 1), Field("u", x)
    return Problem("p1", line, [u.diff(x, 2) + sp.pi**2 * sp.sin(sp.pi * x)],
                   conditions=[Dirichlet(u, 0, on=line.boundary)], exact={u: sp.sin(sp.pi * x)})


def decay():
    t, x = Coordinate("t"), Field("x", Coordinate("t"))
    ts = np.linspace(0, 1, 11)
    return Problem(name="decay", domain=TimeInterval(t, 0, 1), equations=[x.diff(t) + Parameter("k", 0.5) * x],
                   data=xr.Dataset({"x": (("trajectory", "t"), np.exp(-0.5 * ts)[None])}, coords={"t": ts}))


PDE = dict(model_options={"hidden": (8,)}, points={"interior": 64, "boundary": 8}, lbfgs_steps=0, chunk=10,
           progress=False, time_budget=0)


def test_adam_then_lbfgs_minimise_a_quadratic():
    out = fit(quadratic, {"w": jnp.zeros(3)}, config(steps=200, learning_rate=0.1, lbfgs_steps=10))
    np.testing.assert_allclose(np.asarray(out.params["w"]), TARGET, atol=1e-5)
    # At the minimum no step changes the loss any more: the quasi-Newton phase ends there.
    assert out.steps == 200 and out.lbfgs_steps < 10 and out.stopped.startswith("stuck")
    assert len(out.history["loss"]) == 200 + out.lbfgs_steps
    assert list(out.history["phase"][[0, -1]]) == ["adam", "lbfgs"] and "fit" in out.history


def test_a_custom_optax_optimiser_is_used():
    # A transformation that never moves the parameters: the loss stays where it started.
    out = fit(quadratic, {"w": jnp.zeros(3)}, config(steps=30), optimizer=optax.set_to_zero())
    assert np.all(out.history["loss"] == 14.0)
    with pytest.raises(TypeError, match="optimizer must be an optax GradientTransformation"):
        fit(quadratic, {"w": jnp.zeros(3)}, config(steps=3), optimizer="adam")


def test_the_average_of_an_averaged_optimiser_trails_the_parameters():
    out = fit(quadratic, {"w": jnp.zeros(3)}, config(steps=50, learning_rate=0.1),
              optimizer=averaged(optax.adam(0.1), 0.9))
    average = averaged_params(out.opt_state, out.params)["w"]
    assert 0 < float(jnp.sum((average - TARGET) ** 2)) and not np.allclose(average, out.params["w"])


# the trajectory fit's two stages compile twice for each of the two solves: 40 s; CI's slow list runs it
@pytest.mark.parametrize("model", ["mlp", pytest.param("node", marks=pytest.mark.slow)])
def test_sciml_solve_passes_a_custom_optimiser_to_pde_and_ode_training(model):
    calls = []
    still = optax.set_to_zero()  # never moves the parameters
    recording = optax.GradientTransformation(lambda p: calls.append("init") or still.init(p), still.update)
    problem, options = (poisson1d(), PDE) if model == "mlp" else (decay(), dict(lbfgs_steps=0, progress=False))
    frozen = sciml.solve(problem, model=model, steps=20, optimizer=recording, **options)
    trained = sciml.solve(problem, model=model, steps=20, **options)
    assert calls
    if model == "mlp":
        losses = np.asarray(frozen.history["loss"])
        assert len(losses) == 20 and np.all(losses == losses[0])
        assert trained.history["loss"][-1] < losses[0]
    else:
        assert trained.metrics["final_loss"] < frozen.metrics["final_loss"]


@pytest.mark.slow  # ~25 s in the parallel suite; CI runs it in its slow list
def test_a_trajectory_fit_takes_the_engine_settings_by_their_names():
    result = sciml.solve(decay(), model="node", steps=10**6, time_budget=4.0, lbfgs_steps=0, progress=False)
    assert result.metrics["steps"] < 10**6 and result.metrics["train_wall_s"] < 30


def test_a_diverging_quadratic_raises_with_the_term_step_and_phase():
    with pytest.raises(TrainingDiverged, match=r"loss term 'fit' became infinite at step \d+ \(Adam\)"):
        fit(quadratic, {"w": jnp.zeros(3)}, config(steps=50, learning_rate=1e30))


@pytest.mark.parametrize("kind", ["pde", "ode"])
def test_the_same_nan_policy_for_pde_and_ode_training(kind):
    nan = optax.scale(float("nan"))  # the first update makes every parameter NaN
    with pytest.raises(TrainingDiverged, match=r"became (NaN|infinite) at step 1 \(Adam\)"):
        if kind == "pde":
            sciml.solve(poisson1d(), steps=20, optimizer=nan, **PDE)
        else:
            sciml.solve(decay(), model="node", steps=20, lbfgs_steps=0, progress=False, optimizer=nan)


def test_the_same_nan_policy_for_atomistic_training():
    from sciml.atomistic import AtomisticProblem
    from sciml.atomistic.data import load

    structures, _ = load("ethanol")
    problem = AtomisticProblem(
        name="ethanol_tiny", structures=structures[np.arange(12)], cutoff=4.0,
        split={"train": np.arange(8), "val": np.arange(8, 10), "test": np.arange(10, 12)},
        model_options={"nequip": {"channels": 4, "lmax": 1, "n_layers": 1, "n_basis": 4, "radial_hidden": 8}},
        steps=5, train_options={"batch_size": 4, "eval_every": 5})
    with pytest.raises(TrainingDiverged, match=r"'forces'.* became NaN at step 1 \(Adam\)"):
        sciml.solve(problem, model="nequip", steps=5, progress=False, optimizer=optax.scale(float("nan")))
    with pytest.raises(ValueError, match="'time_budget_s' was renamed: use time_budget"):
        sciml.solve(problem, model="nequip", steps=5, progress=False, time_budget_s=10)


def test_resume_from_a_checkpoint_gives_the_uninterrupted_result(tmp_path):
    settings = {"problem": "quadratic", "seed": 0}
    straight = fit(quadratic, {"w": jnp.zeros(3)}, config(steps=60, lbfgs_steps=6, chunk=7))
    path = tmp_path / "run.msgpack"
    fit(quadratic, {"w": jnp.zeros(3)}, config(steps=40, chunk=7), checkpoint=path, settings=settings)
    resumed = fit(quadratic, {"w": jnp.zeros(3)}, config(steps=60, lbfgs_steps=6, chunk=7), checkpoint=path,
                  settings=settings, resume=True)
    np.testing.assert_array_equal(np.asarray(straight.params["w"]), np.asarray(resumed.params["w"]))
    np.testing.assert_array_equal(straight.history["loss"], resumed.history["loss"])
    assert resumed.new_steps == 26


def test_a_stretched_schedule_finishes_its_decay_within_the_time_budget():
    import time

    from sciml.training.engine import Batches

    class Slow(Batches):  # a machine slower than the step count assumed: 20 ms per step
        def __init__(self):
            self.seen = []

        def __call__(self, step, params):
            self.seen.append((step, self.fraction))
            time.sleep(0.02)
            return None

    def rates(state):
        injected = optax.InjectStatefulHyperparamsState
        return [s.hyperparams["learning_rate"] for s in jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, injected))
                if isinstance(s, injected)]

    cfg = dict(steps=100000, learning_rate=0.1, final_learning_rate=1e-3, schedule="cosine", chunk=1, time_budget=3.0)
    slow = Slow()
    out = fit(quadratic, {"w": jnp.zeros(3)}, config(stretch_schedule=True, **cfg), batches=slow)
    assert out.steps < 1000 and "time budget" in out.stopped
    # The batches are told how far the run is: by the clock here, not by the steps.
    fractions = [f for _, f in slow.seen]
    assert fractions == sorted(fractions) and fractions[-1] > 0.9 and slow.seen[-1][0] / 100000 < 0.01
    (rate,) = rates(out.opt_state)
    assert float(rate) < 2e-3  # the decay ran to (near) its end in the time there was
    plain = fit(quadratic, {"w": jnp.zeros(3)}, config(**cfg), batches=Slow())
    assert rates(plain.opt_state) == []  # without stretching: the step-count schedule, no injected rate


def test_a_stalled_first_phase_the_budget_would_cut_hands_over_early():
    import time

    from sciml.training.engine import ADAM_STALL_STEPS, Batches

    class Slow(Batches):  # 1 ms a step: 10^5 Adam steps would need far more than the budget
        def __call__(self, step, params):
            time.sleep(0.02)

    # Adam at a rate of 1e-7 hardly moves the quadratic: its loss stalls from the start.
    stalled = dict(learning_rate=1e-7, lbfgs_steps=50, time_budget=60.0, quasi_newton="bfgs")
    out = fit(quadratic, {"w": jnp.zeros(3)}, config(steps=10**5, **stalled), batches=Slow())
    assert out.steps == 2 * ADAM_STALL_STEPS and "Adam cut at step 1000" in out.stopped
    assert out.history["loss"][-1] < 1e-8  # the quasi-Newton phase then solves it
    # Within its share of the budget the first phase runs to its last step, stalled or not.
    whole = fit(quadratic, {"w": jnp.zeros(3)}, config(steps=1200, **stalled), batches=Slow())
    assert whole.steps == 1200 and "Adam cut" not in whole.stopped


def test_the_batches_may_change_the_loss_between_stalls():
    from sciml.training.engine import Batches

    class Advancing(Batches):  # moves the target once, the first time it is asked between stalls
        def __init__(self):
            super().__init__({"target": TARGET})
            self.asked = []

        def held_out(self):
            return self.batch

        def advance(self, params):
            self.asked.append(len(self.asked))
            if len(self.asked) == 1:
                self.batch = {"target": -TARGET}
                return "the target moved"
            return ""

    def loss(params, batch):
        value = jnp.sum((params["w"] - batch["target"]) ** 2)
        return value, {"fit": value}

    batches = Advancing()
    # Asked after every second iteration (a fifth of the window, one iteration a chunk): before
    # the quadratic is solved and the steps stop changing its loss.
    out = fit(loss, {"w": jnp.zeros(3)}, config(steps=1, lbfgs_steps=400, stall_window=5, chunk=1,
                                                quasi_newton="bfgs", learning_rate=1e-3), batches=batches)
    assert batches.asked and np.allclose(out.params["w"], -TARGET, atol=1e-4)  # the changed loss, minimised


def test_without_a_time_budget_the_batches_are_told_the_share_of_steps_done():
    from sciml.training.engine import Batches

    class Recording(Batches):
        seen = []

        def __call__(self, step, params):
            self.seen.append((step, self.fraction))

    fit(quadratic, {"w": jnp.zeros(3)}, config(steps=40, chunk=10), batches=Recording())
    assert Recording.seen == [(0, 0.0), (10, 0.25), (20, 0.5), (30, 0.75)]


def test_the_quasi_newton_phase_ends_at_its_time_budget_however_long_its_chunks():
    import time

    @jax.custom_jvp
    def slow(w):  # 10 ms per loss evaluation, on the host: a chunk of 10^5 iterations is 1000 s or more
        return jax.pure_callback(lambda w: (time.sleep(0.01), np.float32(0.0))[1],
                                 jax.ShapeDtypeStruct((), jnp.float32), w)

    slow.defjvp(lambda primals, tangents: (slow(*primals), jnp.zeros((), jnp.float32)))

    def loss(params, batch):  # no minimum: every iteration moves the parameters
        value = jnp.sum(params["w"]) + slow(params["w"])
        return value, {"fit": value}

    start = time.perf_counter()
    out = fit(loss, {"w": jnp.zeros(3)},
              config(steps=1, lbfgs_steps=10**6, chunk=10**5, time_budget=2.0, quasi_newton="bfgs"))
    assert time.perf_counter() - start < 20.0 and "time budget" in out.stopped
    assert 0 < out.lbfgs_steps < 1000 and len(out.history["loss"]) == 1 + out.lbfgs_steps


@pytest.mark.parametrize("method", ["ssbfgs", "lbfgs"])
def test_a_failed_line_search_step_that_raises_the_loss_is_refused(method):
    # A cliff just past the start along the descent direction: no step decreases the loss, and
    # optax's search then takes its last try (1e6 here); the engine stays where it was.
    def cliff(params, batch):
        value = jnp.sum((params["w"] - TARGET) ** 2) + 1e6 * (jnp.dot(params["w"], TARGET) > 1e-12)
        return value, {"fit": value}

    out = fit(cliff, {"w": jnp.zeros(3)}, config(steps=1, learning_rate=1e-30, lbfgs_steps=10, quasi_newton=method))
    assert np.all(out.history["loss"] <= 14.0 + 1e-4)
    # Restarted at unchanged parameters an iteration repeats the one before: the phase ends on
    # the third such iteration in a row, and a stall test ends the round there too.
    assert out.lbfgs_steps == STUCK_ITERATIONS and out.stopped.startswith("stuck (no step changed the loss")
    from sciml.training.engine import Batches

    class Judged(Batches):  # held-out points: the phase has a stall test
        def held_out(self):
            return self.batch

    judged = fit(cliff, {"w": jnp.zeros(3)}, config(steps=1, learning_rate=1e-30, lbfgs_steps=400, stall_window=50,
                                                   quasi_newton=method), batches=Judged({}))
    assert judged.lbfgs_steps == 2 * STUCK_ITERATIONS  # a round on fresh points, then the end
    assert "no step changed the loss" in judged.stopped and "after 1 round on fresh points" in judged.stopped


def test_a_plateau_of_the_loss_float_is_a_stall_at_once():
    from sciml.training.engine import Batches

    class Judged(Batches):
        def held_out(self):
            return self.batch

    @jax.custom_jvp
    def level(w):  # a loss of one everywhere whose gradient says it falls along -w
        return jnp.ones((), w.dtype)

    level.defjvp(lambda primals, tangents: (level(*primals), jnp.sum(tangents[0])))

    def plateau(params, batch):  # every step moves the parameters, none changes the loss's float
        value = level(params["w"])
        return value, {"fit": value}

    out = fit(plateau, {"w": jnp.zeros(3)}, config(steps=1, learning_rate=1e-30, lbfgs_steps=10**4, stall_window=200,
                                                   chunk=100, quasi_newton="bfgs"), batches=Judged({}))
    # the first round and one on fresh points, each ended on its third such iteration, where the
    # held-out test saw the plateau only at the end of a chunk of 100
    assert np.any(out.params["w"] != 0) and out.lbfgs_steps == 2 * STUCK_ITERATIONS
    assert out.stopped.startswith("stalled (no step changed the loss")
