"""Terms competing in units: the residual weights are raised when a run stalls with its equations
unbalanced while data pull (``Trainer.constrain``), so noisy data are fitted within the physics;
a soft condition's weight when the stall leaves it missed."""

import numpy as np
import pytest
import xarray as xr

import sciml
from sciml.dsl import Coordinate, Field, Initial, Parameter, Problem, TimeInterval

t = Coordinate("t")
N = Field("N", t)


def logistic(scale: float = 1.0) -> Problem:
    """Logistic growth, r and K learned from 12 counts with 3% noise; ``scale`` changes the units."""
    r, K = Parameter("r", 0.3, learn=True, positive=True), Parameter("K", 50.0 * scale, learn=True, positive=True)
    times = np.linspace(0, 20, 12)
    truth = 80 / (1 + (80 / 2 - 1) * np.exp(-0.5 * times))
    counts = scale * truth * (1 + 0.03 * np.random.default_rng(3).standard_normal(times.size))
    return Problem("logistic", TimeInterval(t, 0, 20), [N.diff(t) - r * N * (1 - N / K)],
                   conditions=[Initial(N, 2.0 * scale)], data=xr.Dataset({"N": ("t", counts)}, coords={"t": times}))


SETTINGS = dict(model="mlp", steps=1000, progress=False)


@pytest.mark.slow  # 2 x ~70 s
def test_noisy_data_are_fitted_within_the_equations_in_any_units():
    plain = sciml.solve(logistic(), **SETTINGS, residual_target=0.0)
    assert not plain.verdict.trusted and "residual_weight_raised" not in plain.metrics  # the trade the rule ends
    for scale in (1.0, 1e4):
        result = sciml.solve(logistic(scale), **SETTINGS)
        assert result.verdict.trusted, result.verdict.reasons
        assert result.metrics["residual_weight_raised"] and result.metrics["loss_weights"]["residual"] > 1
        assert result.verdict.indicators["residual"][0] < 1e-2
        r, K = result.metrics["parameters"]["r"], result.metrics["parameters"]["K"] / scale
        assert abs(r - 0.5) < 0.03 and abs(K - 80) < 3, (r, K)  # the neural ODE's figures: 0.487, 81.1


def test_the_weights_stand_without_data_with_the_users_weights_or_balanced_equations():
    from sciml.dsl.compile import compile_problem
    from sciml.models import build_model
    from sciml.training.config import TrainConfig
    from sciml.training.trainer import Trainer

    def trainer(problem, residual_target=1e-2, **train):
        compiled = compile_problem(problem)
        model = build_model("mlp", len(compiled.coordinate_names), len(compiled.field_names), hidden=[8])
        return Trainer(compiled, model, TrainConfig(steps=1, progress=False, residual_target=residual_target, **train))

    without_data = Problem("decay", TimeInterval(t, 0, 1), [N.diff(t) + N], conditions=[Initial(N, 1.0)])
    assert trainer(without_data).constrain(trainer(without_data).trainable) == ""
    users = trainer(logistic(), weights={"residual": 2.0})
    assert users.constrain(users.trainable) == "" and users.weights["residual"] == 2.0
    untrained = trainer(logistic())  # an untrained network leaves the equation open: raised, at most 1000x
    note = untrained.constrain(untrained.trainable)
    assert "residual weights x1000" in note and untrained.weights["residual"] == 1000.0
    assert all(w == 1.0 for n, w in untrained.weights.items() if n != "residual")
    lax = trainer(logistic(), residual_target=10.0)  # within a (lax) target: left alone
    assert lax.constrain(lax.trainable) == "" and lax.weights["residual"] == 1.0
    assert untrained.raises == [note]
    for _ in range(3):
        untrained.constrain(untrained.trainable)
    assert len(untrained.raises) == 3  # at most MAX_RAISES times


def beam() -> Problem:
    """A clamped beam in SI units, EI w_xxxx = q: deflections of a millimetre, a load of 1e3."""
    from sciml.dsl import Dirichlet, Interval, Neumann

    x = Coordinate("x", units="m")
    span = Interval(x, 0, 2)
    w = Field("w", x, units="m")
    return Problem("beam", span, [2.0e4 * w.diff(x, 4) - 1.0e3],
                   conditions=[Dirichlet(w, 0, on=span.boundary, hard=True), Neumann(w, 0, on=span.boundary)])


def test_a_missed_condition_is_weighted_up_at_a_stall_unless_the_user_weighted_it():
    from sciml.dsl.compile import compile_problem
    from sciml.models import build_model
    from sciml.training.config import TrainConfig
    from sciml.training.trainer import MAX_RAISES, Trainer

    compiled = compile_problem(beam())
    (slope,) = [t.name for t in compiled.terms if t.kind == "condition"]

    def trainer(condition_target=3e-3, **train):
        model = build_model("mlp", 1, 1, hidden=[8], seed=0)
        return Trainer(compiled, model, TrainConfig(steps=1, progress=False, condition_target=condition_target,
                                                    **train))

    untrained = trainer()  # an untrained network misses the clamped slope by far: raised 1000x
    note = untrained.constrain(untrained.trainable)
    assert slope in note and "weight x1000" in note and untrained.weights[slope] == 1000.0
    assert untrained.weights["residual"] == 1.0 and untrained.condition_raises == [note]
    for _ in range(MAX_RAISES):
        untrained.constrain(untrained.trainable)
    assert len(untrained.condition_raises) == MAX_RAISES and untrained.weights[slope] == 1000.0 ** MAX_RAISES
    off = trainer(condition_target=0.0)
    assert off.constrain(off.trainable) == "" and off.weights[slope] == 1.0
    users = trainer(weights={slope: 5.0})
    assert users.constrain(users.trainable) == "" and users.weights[slope] == 5.0
    lax = trainer(condition_target=1e6)  # within a (lax) target: left alone
    assert lax.constrain(lax.trainable) == "" and lax.weights[slope] == 1.0
