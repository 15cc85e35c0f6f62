"""Time marching: the collocation points grow over the time interval in stages, each kept once
balanced (early, or at a stall of the quasi-Newton phase), and the recipe asks for it on forward
ODEs that span many time scales."""

import numpy as np
import pytest
import sympy as sp

import sciml
from sciml.dsl import Coordinate, Dirichlet, Field, Initial, Interval, Parameter, Problem, TimeInterval
from sciml.dsl.compile import compile_problem
from sciml.models import build_model
from sciml.recipe import _marching_stages, choose
from sciml.training.config import MAX_TIME_STAGES, TrainConfig
from sciml.training.trainer import MARCH_BALANCE, MARCH_EARLY, MARCH_HALVINGS, Trainer


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
    with pytest.raises(ValueError, match="march_when_unbalanced must be true or false"):
        marching_config(march_when_unbalanced="no")
    x = Coordinate("x")
    u = Field("u", x)
    steady = Problem("steady", Interval(x, 0, 1), [u.diff(x, 2) + 1], conditions=[Dirichlet(u, 0, on=Interval(x, 0, 1).boundary)])
    with pytest.raises(ValueError, match="no TimeInterval"):
        Trainer(compile_problem(steady), build_model("mlp", 1, 1, hidden=(8,)), marching_config())


def test_spans_grow_on_balanced_stalls_and_go_back_on_unbalanced_ones():
    compiled = compile_problem(oscillator(t1=2.0))
    trainer = Trainer(compiled, build_model("mlp", 1, 1, hidden=(8,)), marching_config())
    trainer.extra = np.zeros((0, 1), np.float32)
    tmax = lambda: np.asarray(compiled.interior_points(trainer._sample(0, trainer.extra[:0]))).max()  # noqa: E731
    assert 0.45 < tmax() <= 0.5
    assert np.asarray(compiled.interior_points(trainer.held_out()["points"])).max() <= 0.5  # judged on the span
    balanced, unbalanced = {"model": 1}, {"model": 2}  # stand-ins: only their identity matters here
    trainer._balance = lambda params, *key: 0.0 if params is balanced else 1.0
    note = trainer.constrain(balanced)
    assert "reach t = 1" in note and 0.95 < tmax() <= 1.0 and trainer.restart(unbalanced) is unbalanced
    # Points refined in an earlier span stay where they were found.
    second = np.asarray(compiled.interior_points(trainer._sample(0, np.asarray([[0.25]], np.float32))))
    assert second[-1, 0] == pytest.approx(0.25)
    # A span left unbalanced: back to the last accepted parameters, half the step.
    note = trainer.constrain(unbalanced)
    assert "back to the fit up to t = 0.5, on to t = 0.75" in note
    assert trainer.restart(unbalanced) is balanced and 0.7 < tmax() <= 0.75
    _, values = trainer.state()
    trees, _ = trainer.state()
    assert trees["accepted"] is balanced
    trainer.span = 1.0
    trainer.restore({"rest": trainer.rest}, values)
    assert trainer.span == 0.375 and trainer.rejected == 1  # a resumed run goes on from where it was
    for _ in range(10):
        if not trainer.constrain(balanced):
            break
    assert trainer.marched and tmax() > 1.9  # the whole interval, accepted
    assert trainer.constrain(balanced) == ""  # nothing left to grow, no data to weigh
    # The step halves at most MARCH_HALVINGS times: then an unbalanced span is accepted.
    stubborn = Trainer(compiled, build_model("mlp", 1, 1, hidden=(8,)), marching_config(time_marching=2))
    stubborn._balance = lambda params, *key: 1.0
    assert "reach t = 2" in stubborn.constrain(unbalanced)  # the first span: nothing to go back to
    notes = [stubborn.constrain(unbalanced) for _ in range(MARCH_HALVINGS + 1)]
    assert all("back to" in n for n in notes[:-1]) and "reach" in notes[-1]
    assert stubborn.span == pytest.approx(0.5 + 0.5 / 2**MARCH_HALVINGS + 0.5 / 2 ** (MARCH_HALVINGS - 1))


def test_a_span_balanced_well_before_a_stall_is_kept_at_once():
    compiled = compile_problem(oscillator(t1=2.0))
    trainer = Trainer(compiled, build_model("mlp", 1, 1, hidden=(8,)), marching_config())
    params = {"model": 1}
    trainer._balance = lambda params, *key: 3 * MARCH_EARLY  # within the stall's bound, not the early one
    assert trainer.advance(params) == "" and trainer.span == 0.25  # waits for the stall
    trainer._balance = lambda params, *key: MARCH_EARLY / 2
    assert "reach t = 1" in trainer.advance(params) and trainer.accepted is params
    trainer.span = 1.0  # the last span is judged at its stall, where a rejection can still go back
    assert trainer.advance(params) == "" and not trainer.marched


def test_marching_when_unbalanced_waits_for_a_stall_over_the_whole_interval():
    compiled = compile_problem(oscillator(t1=2.0))
    tmax = lambda trainer: np.asarray(  # noqa: E731
        compiled.interior_points(trainer._sample(0, np.zeros((0, 1), np.float32)))).max()
    balanced = Trainer(compiled, build_model("mlp", 1, 1, hidden=(8,)), marching_config(march_when_unbalanced=True))
    assert tmax(balanced) > 1.9  # the whole interval at once
    balanced._balance = lambda params, *key: 0.5 * MARCH_BALANCE
    assert balanced.constrain({"model": 1}) == "" and balanced.marched and tmax(balanced) > 1.9
    assert balanced.constrain({"model": 1}) == ""  # balanced at its first stall: it never marches
    assert balanced.balance_at_first_stall == pytest.approx(0.5 * MARCH_BALANCE)  # recorded either way
    unbalanced = Trainer(compiled, build_model("mlp", 1, 1, hidden=(8,)), marching_config(march_when_unbalanced=True))
    unbalanced._balance = lambda params, *key: 3 * MARCH_BALANCE
    note = unbalanced.constrain({"model": 1})
    assert "unbalanced by 3.00e-02" in note and "up to t = 0.5" in note and 0.45 < tmax(unbalanced) <= 0.5
    unbalanced.extra = np.zeros((0, 1), np.float32)
    _, values = unbalanced.state()
    resumed = Trainer(compiled, build_model("mlp", 1, 1, hidden=(8,)), marching_config(march_when_unbalanced=True))
    resumed.extra = unbalanced.extra
    resumed.restore({"rest": resumed.rest}, values)
    assert not resumed.deferred and resumed.span == 0.25 and resumed.balance_at_first_stall == pytest.approx(0.03)
    unbalanced._balance = lambda params, *key: 0.0
    assert "reach t = 1" in unbalanced.constrain({"model": 1})  # then it marches as usual


def test_a_run_cut_off_in_an_unbalanced_span_returns_the_last_span_kept():
    compiled = compile_problem(oscillator(t1=2.0))
    trainer = Trainer(compiled, build_model("mlp", 1, 1, hidden=(8,)), marching_config())
    kept, tried = {"model": 1}, {"model": 2}  # stand-ins: only their identity matters here
    trainer._balance = lambda params, *key: 0.0 if params is kept else 1.0
    trainer.constrain(kept)  # [0, 0.5] kept, [0, 1] tried when the budget runs out
    assert trainer._marched_params(tried) is kept and trainer.span == 0.25  # what was kept, not tried
    trainer.span = 0.5
    assert trainer._marched_params(kept) is kept and trainer.span == 0.5  # the span tried is balanced too
    first = Trainer(compiled, build_model("mlp", 1, 1, hidden=(8,)), marching_config())
    first._balance = lambda params, *key: 1.0
    assert first._marched_params(tried) is tried and first.span == 0.0  # nothing kept: nothing reached


@pytest.mark.slow  # ~30 s of training; the default suite is near its 15-minute line
def test_a_run_marches_to_the_end_of_the_interval():
    solution = sciml.solve(oscillator(t1=2.0), model="mlp", model_options={"hidden": (16,)},
                           steps=50, lbfgs_steps=1500, stall_window=25, time_marching=3, progress=False,
                           points={"interior": 128})
    marching = solution.metrics["time_marching"]
    assert marching["whole_interval"] and marching["reached"] == 1.0
    assert solution.metrics["verdict"]["indicators"]["classical"]["x"] < 1e-2


def test_recipe_marches_a_forward_ode_over_many_time_scales_only():
    long = choose(oscillator(t1=5.0, omega=3.0, amplitude=2.5), "mlp")
    # Linearised at 2.5 rad: rate sqrt(-9 cos 2.5) = 2.68 over 5 time units, 2 time scales a stage.
    assert long.train["time_marching"] == 7
    assert "time scales" in long.reasons["time_marching"]
    assert "time_marching" not in choose(oscillator(t1=1.0), "mlp").train  # 0.74 time scales


def test_recipe_does_not_march_a_fast_decay_onto_a_slow_drive():
    t = Coordinate("t")
    y = Field("y", t)
    relaxation = Problem("relaxation", TimeInterval(t, 0, 3), [y.diff(t) + 50 * (y - sp.cos(t))],
                         conditions=[Initial(y, 0)])
    assert "time_marching" not in choose(relaxation, "mlp").train  # rate -50: it forgets its start
    growth = Problem("growth", TimeInterval(t, 0, 3), [y.diff(t) - 5 * y], conditions=[Initial(y, 1)])
    assert choose(growth, "mlp").train["time_marching"] == 8  # rate +5 over 3: 15 time scales


X, T = Coordinate("x"), Coordinate("t")


def _evolution(equations, conditions, t1=1.0):
    return Problem("evolution", Interval(X, -1, 1) * TimeInterval(T, 0, t1), equations, conditions=conditions)



def test_recipe_marches_a_pde_by_the_rates_of_its_local_terms():
    u, v = Field("u", X, T), Field("v", X, T)
    # Allen-Cahn: the reaction 5 u - 5 u^3 grows at rate 5 where u0 = 0; 5 time scales over [0, 1].
    allen_cahn = _evolution([u.diff(T) - 1e-4 * u.diff(X, 2) - 5 * u + 5 * u**3],
                            [Initial(u, X**2 * sp.cos(sp.pi * X))])
    assert _marching_stages(allen_cahn) == (3, pytest.approx(5.0))
    assert "spatial derivative" in choose(allen_cahn, "mlp").reasons["time_marching"]
    # A phase rotation u_t = -8 v, v_t = 8 u: 16 time scales over [0, 2], whatever diffuses beside it.
    rotation = _evolution([u.diff(T) + 8 * v - 0.05 * u.diff(X, 2), v.diff(T) - 8 * u - 0.05 * v.diff(X, 2)],
                          [Initial(u, sp.cos(X)), Initial(v, 0)], t1=2.0)
    assert _marching_stages(rotation) == (8, pytest.approx(8.0))
    # Second order in time: u_tt = u_xx - sin u oscillates at rate cos(u0)^(1/2) = 1; 10 time scales.
    sine_gordon = _evolution([u.diff(T, 2) - u.diff(X, 2) + sp.sin(u)],
                             [Initial(u, 0), Initial(u, 1 / sp.cosh(X), order=1)], t1=10.0)
    assert _marching_stages(sine_gordon) == (5, pytest.approx(1.0))


def test_recipe_does_not_march_transport_diffusion_or_what_it_cannot_read():
    u = Field("u", X, T)
    burgers = _evolution([u.diff(T) + u * u.diff(X) - 0.01 * u.diff(X, 2)], [Initial(u, -sp.sin(sp.pi * X))])
    decay = _evolution([u.diff(T) - u.diff(X, 2) + 50 * u], [Initial(u, sp.cos(X))])
    assert _marching_stages(burgers) == (1, 0.0)  # u u_x moves the state: not a local rate
    assert _marching_stages(decay) == (1, 0.0)  # -50 u forgets the start
    growth = [u.diff(T) - 5 * u]
    no_start = _evolution(growth, [Dirichlet(u, 0, on=Interval(X, -1, 1).boundary)])
    mixed = _evolution([u.diff(T) - u.diff(X, T) - 5 * u], [Initial(u, 1)])
    rate = Parameter("r", 5.0, learn=True)
    learned = _evolution([u.diff(T) - rate * u], [Initial(u, 1)])
    for problem in (no_start, mixed, learned):
        assert _marching_stages(problem) == (1, 0.0)
    assert _marching_stages(_evolution(growth, [Initial(u, 1)])) == (3, pytest.approx(5.0))


def test_a_deferred_decision_is_recorded_in_the_run():
    compiled = compile_problem(oscillator(t1=2.0))
    trainer = Trainer(compiled, build_model("mlp", 1, 1, hidden=(8,)), marching_config(march_when_unbalanced=True))
    assert trainer._marching_record()["started"] is False and "balance_at_first_stall" not in trainer._marching_record()
    trainer._balance = lambda params, *key: 3 * MARCH_BALANCE
    trainer.constrain({"model": 1})
    record = trainer._marching_record()
    assert record["started"] and record["balance_at_first_stall"] == pytest.approx(3 * MARCH_BALANCE)
