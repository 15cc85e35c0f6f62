"""Time marching: the collocation points grow over the time interval in stages, one per stall of
the quasi-Newton phase, and the recipe asks for it on forward ODEs that span many time scales."""

import numpy as np
import pytest
import sympy as sp

import sciml
from sciml.dsl import Coordinate, Dirichlet, Field, Initial, Interval, Parameter, Problem, TimeInterval
from sciml.dsl.compile import compile_problem
from sciml.models import build_model
from sciml.recipe import choose
from sciml.training.config import MAX_TIME_STAGES, TrainConfig
from sciml.training.trainer import Trainer


def oscillator(t1=2.0, omega=1.0, amplitude=1.0):
    t = Coordinate("t")
    x = Field("x", t)
    w2 = Parameter("w2", omega**2)
    return Problem("oscillator", TimeInterval(t, 0, t1), [x.diff(t, 2) + w2 * sp.sin(x)],
                   conditions=[Initial(x, amplitude), Initial(x, 0.0, order=1)])


def marching_config(**changes):
    options = dict(steps=20, lbfgs_steps=400, stall_window=25, chunk=10, progress=False, time_marching=4,
                   points={"interior": 64, "boundary": 8})
    return TrainConfig.from_options({**options, **changes})


def test_time_marching_needs_the_stalls_that_pace_it():
    with pytest.raises(ValueError, match="lbfgs_steps > 0 and stall_window > 0"):
        TrainConfig.from_options({"time_marching": 3})
    with pytest.raises(ValueError, match=f"at most {MAX_TIME_STAGES}"):
        marching_config(time_marching=MAX_TIME_STAGES + 1)
    x = Coordinate("x")
    u = Field("u", x)
    steady = Problem("steady", Interval(x, 0, 1), [u.diff(x, 2) + 1], conditions=[Dirichlet(u, 0, on=Interval(x, 0, 1).boundary)])
    with pytest.raises(ValueError, match="no TimeInterval"):
        Trainer(compile_problem(steady), build_model("mlp", 1, 1, hidden=(8,)), marching_config())


def test_collocation_points_cover_the_stages_reached():
    compiled = compile_problem(oscillator(t1=2.0))
    trainer = Trainer(compiled, build_model("mlp", 1, 1, hidden=(8,)), marching_config())
    trainer.stage, trainer.extra = 1, np.zeros((0, 1), np.float32)
    first = np.asarray(compiled.interior_points(trainer._sample(0, trainer.extra)))
    assert first.min() >= 0 and first.max() <= 0.5 and first.max() > 0.45
    held_out = np.asarray(compiled.interior_points(trainer.held_out()["points"]))
    assert held_out.max() <= 0.5  # the stall is judged on the span being fitted
    note = trainer.constrain(trainer.trainable)
    assert "t in [0, 1]" in note and "stage 2 of 4" in note
    # Points refined in an earlier stage stay where they were found.
    trainer.extra = np.asarray([[0.25]], np.float32)
    second = np.asarray(compiled.interior_points(trainer._sample(0, trainer.extra)))
    assert 0.5 < second[:-1].max() <= 1.0 and second[-1, 0] == pytest.approx(0.25)
    _, values = trainer.state()
    trainer.stage = 1
    trainer.restore({"rest": trainer.rest}, values)
    assert trainer.stage == 2  # a resumed run goes on from the stage it reached
    while trainer.stage < 4:
        assert trainer.constrain(trainer.trainable)
    whole = np.asarray(compiled.interior_points(trainer._sample(0, trainer.extra[:0])))
    assert whole.max() > 1.9  # every stage reached: the whole interval
    assert trainer.constrain(trainer.trainable) == ""  # nothing left to grow, no data to weigh


def test_a_run_marches_to_the_end_of_the_interval():
    solution = sciml.solve(oscillator(t1=2.0), model="mlp", model_options={"hidden": (16,)},
                           steps=50, lbfgs_steps=1500, stall_window=25, time_marching=3, progress=False,
                           points={"interior": 128})
    assert solution.metrics["time_marching"] == {"stages": 3, "reached": 3}
    assert solution.metrics["verdict"]["indicators"]["classical"]["x"] < 1e-2


def test_recipe_marches_a_forward_ode_over_many_time_scales_only():
    long = choose(oscillator(t1=5.0, omega=3.0, amplitude=2.5), "mlp")
    # Linearised at 2.5 rad: rate sqrt(-9 cos 2.5) = 2.68 over 5 time units, 2 time scales a stage.
    assert long.train["time_marching"] == 7
    assert "time scales" in long.reasons["time_marching"]
    assert "time_marching" not in choose(oscillator(t1=1.0), "mlp").train  # 0.74 time scales
