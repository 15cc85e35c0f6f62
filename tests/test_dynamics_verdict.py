"""The verdict on trajectory models: the same indicators as a PDE run's, measured along the
prediction (sciml.dynamics.verdict)."""

import numpy as np
import pytest
import xarray as xr

import sciml
from sciml.dsl import Coordinate, Field, Initial, Parameter, Problem, TimeInterval, Unknown
from sciml.dynamics.problem import ode_system
from sciml.dynamics.verdict import assess_trajectories

t = Coordinate("t")
x = Field("x", t)
TS = np.linspace(0, 1, 11)


def _decay(t_end=1.0, unknown=False):
    """dx/dt = -x / 2 observed on [0, 1], asked about on [0, t_end]."""
    rate = Unknown("U", inputs=[x]) if unknown else -Parameter("k", 0.5) * x
    return Problem(name="decay", domain=TimeInterval(t, 0, t_end), equations=[x.diff(t) - rate],
                   data=xr.Dataset({"x": (("trajectory", "t"), np.exp(-0.5 * TS)[None])}, coords={"t": TS}))


def _assess(problem, prediction, losses=(1.0, 1e-3), check_equations=True):
    system = ode_system(problem)
    ys = system.observations["x"].values[..., None]
    return assess_trajectories(system, TS, ys, lambda times: prediction(np.asarray(times))[None, :, None], losses,
                               {"right-hand side": lambda t, u: u}, check_equations)


def test_the_exact_solution_is_trusted_and_a_wrong_one_is_not():
    exact = _assess(_decay(), lambda ts: np.exp(-0.5 * ts))
    assert exact.trusted, exact.reasons
    assert exact.indicators["residual"][0] < 1e-4 and exact.indicators["data"]["observations of x"] < 1e-6
    # Through every observation but wiggling between them: only the equations can tell.
    wiggle = _assess(_decay(), lambda ts: np.exp(-0.5 * ts) + 0.02 * np.sin(10 * np.pi * ts))
    assert not wiggle.trusted and any("residual" in r for r in wiggle.reasons)
    assert wiggle.indicators["data"]["observations of x"] < 1e-6


def test_a_diverged_or_blown_up_run_is_doubtful():
    nan_loss = _assess(_decay(), lambda ts: np.exp(-0.5 * ts), losses=(1.0, np.nan))
    assert "the loss was not finite during training" in nan_loss.reasons
    blown = _assess(_decay(2.0), lambda ts: np.where(ts > 1.5, np.inf, np.exp(-0.5 * ts)))
    assert any("not finite over the span" in r for r in blown.reasons)


def test_a_prediction_beyond_the_states_the_data_visited_is_doubtful():
    # On [0, 3] the state decays to 0.22, far below the 0.61 it reached in the data: a learned
    # right-hand side is an extrapolation there, however well the data are fitted.
    far = _assess(_decay(3.0), lambda ts: np.exp(-0.5 * ts), check_equations=False)
    assert far.indicators["unknown_outside_data"]["right-hand side"] > 0.5
    assert any("learned term 'right-hand side'" in r for r in far.reasons)


# node: ~23 s in the parallel suite; CI runs it in its slow list (cfc stands for the trajectory models here)
@pytest.mark.parametrize("model", [pytest.param("node", marks=pytest.mark.slow), "cfc"])
def test_solve_records_the_verdict_and_a_starved_run_is_doubtful(model, caplog):
    starved = sciml.solve(_decay(), model=model, steps=2, lbfgs_steps=0, progress=False)
    verdict = starved.metrics["verdict"]
    assert verdict["status"] == "doubtful" and verdict["reasons"]
    assert verdict["indicators"]["data"]["observations of x"] > 0.1
    assert "the result is doubtful" in caplog.text
    # Without a reference the prediction is still saved, over the problem's whole interval.
    from sciml.dynamics.result import PREDICTION_TIMES

    ds = starved.to_xarray()
    assert ds["x_predicted"].dims == ("trajectory", "time_prediction")
    assert ds.sizes["time_prediction"] == PREDICTION_TIMES and float(ds["time_prediction"][-1]) == 1.0
    assert np.isfinite(ds["x_predicted"].values).all()


@pytest.mark.slow  # 75 s
def test_a_well_trained_ude_inside_its_data_is_trusted():
    result = sciml.solve(_decay(unknown=True), model="node", steps=200, progress=False)
    verdict = result.metrics["verdict"]
    assert verdict["status"] == "trusted", verdict["reasons"]
    assert set(verdict["indicators"]["unknown_outside_data"]) == {"U"}


def test_a_forecast_beyond_the_last_observation_is_doubtful_even_inside_the_data_range():
    """An oscillator observed over one period and asked about three: its states stay where the
    data were, so the learned term never leaves its inputs' range, yet its errors add up over
    the two unobserved periods (a drifting phase) with nothing to check them."""
    from sciml.verdict import judge, share_beyond

    y = Field("y", t)
    ts = np.linspace(0.0, 1.0, 41)

    def verdict(t_end):
        problem = Problem(name="cycle", domain=TimeInterval(t, 0, t_end),
                          equations=[x.diff(t) - y, y.diff(t) - Unknown("U", inputs=[x])],
                          data=xr.Dataset({"x": (("trajectory", "t"), np.sin(2 * np.pi * ts)[None]),
                                           "y": (("trajectory", "t"), 2 * np.pi * np.cos(2 * np.pi * ts)[None])},
                                          coords={"t": ts}))
        system = ode_system(problem)
        ys = np.stack([system.observations[s].values for s in ("x", "y")], -1)
        exact = lambda times: np.stack([np.sin(2 * np.pi * np.asarray(times)),  # noqa: E731
                                        2 * np.pi * np.cos(2 * np.pi * np.asarray(times))], -1)[None]
        return assess_trajectories(system, ts, ys, exact, (1.0, 1e-3), {"U": lambda t, u: u[..., :1]}, False)

    inside, forecast = verdict(1.0), verdict(3.0)
    assert inside.trusted, inside.reasons
    assert forecast.indicators["unknown_outside_data"]["U"] < 0.05
    assert forecast.indicators["forecast_beyond_data"] == pytest.approx(2 / 3)
    assert len(forecast.reasons) == 1 and "beyond the observations" in forecast.reasons[0]
    # before the first observation counts too; a forecast within the threshold does not
    assert share_beyond([0.5, 1.0], 0.0, 1.0) == pytest.approx(0.5) and share_beyond([0, 1], 0, 1.02) < 0.05
    assert not judge({"forecast_beyond_data": 0.02}) and judge({"forecast_beyond_data": 0.5})


def test_a_state_never_measured_is_carried_by_the_equations_not_judged_as_a_misfit():
    """Only x of an oscillator is measured (an epidemic counted by its infected alone): y has
    no misfit to judge, and a learned term of y takes its range at the observations from the
    prediction there."""
    import warnings

    y = Field("y", t)
    ts = np.linspace(0.0, 1.0, 41)
    problem = Problem(name="half_seen", domain=TimeInterval(t, 0, 1),
                      equations=[x.diff(t) - Unknown("U", inputs=[y]), y.diff(t) + 4 * np.pi**2 * x],
                      conditions=[Initial(x, 0.0), Initial(y, 2 * np.pi)],  # y's start: no datum gives it
                      data=xr.Dataset({"x": (("trajectory", "t"), np.sin(2 * np.pi * ts)[None])}, coords={"t": ts}))
    system = ode_system(problem)
    ys = np.stack([system.observations[s].values if s in system.observations else np.full((1, ts.size), np.nan)
                   for s in ("x", "y")], -1)
    assert np.isnan(ys[..., 1]).all()
    exact = lambda times: np.stack([np.sin(2 * np.pi * np.asarray(times)),  # noqa: E731
                                    2 * np.pi * np.cos(2 * np.pi * np.asarray(times))], -1)[None]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no mean of an empty slice on the way
        verdict = assess_trajectories(system, ts, ys, exact, (1.0, 1e-3), {"U": lambda t, u: u[..., 1:]}, False)
    assert verdict.trusted, verdict.reasons
    assert verdict.indicators["unmeasured_states"] == ["y"] and list(verdict.indicators["data"]) == ["observations of x"]
    assert verdict.indicators["unknown_outside_data"]["U"] < 0.05


@pytest.mark.slow  # 50 s: the symbolic stage
def test_without_a_reference_the_recovered_law_is_predicted_beside_the_model(tmp_path):
    result = sciml.solve(_decay(unknown=True), model="node", steps=60, progress=False, symbolify=True)
    ds = result.to_xarray()
    assert ds["x_law"].dims == ds["x_predicted"].dims == ("trajectory", "time_prediction")
    # dx/dt = -x/2 recovered: its prediction follows the model's over the interval
    np.testing.assert_allclose(ds["x_law"].values, ds["x_predicted"].values, rtol=0.02)
    result.write(tmp_path)
    assert (tmp_path / "plot.png").stat().st_size > 10_000
