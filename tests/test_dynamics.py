"""ODE problems in the DSL, neural ODE / UDE fitting, invariants, sparse regression, Hamiltonian flows."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp
import xarray as xr

from sciml.datasets import dynamics as data
from sciml.dsl import (Conserved, Coordinate, Field, Initial, Interval, Parameter, Problem, ProblemError,
                       TimeInterval, Unknown)
from sciml.dynamics import ode_system
from sciml.dynamics.node import NeuralField, NeuralODE, ODESolver, UDEField, integrate
from sciml.symbolic.sparse import finite_difference, sparse_fit
from sciml.dynamics.training import fit_trajectories, trajectory_config

t = Coordinate("t")
x, y = Field("x", t), Field("y", t)


def _obs(ts=np.linspace(0, 1, 5)):
    return xr.Dataset({"x": ("t", np.cos(ts)), "y": ("t", np.sin(ts))}, coords={"t": ts})


def _ode(equations, t_end=1.0, **kw):
    return ode_system(Problem(name="ode", domain=TimeInterval(t, 0, t_end), equations=equations, **kw))


# ----------------------------------------------------------------------------- problem DSL
@pytest.mark.parametrize("equations, kw, match", [
    ([x.diff(t, 2) + x], {"data": _obs().drop_vars("y")}, r"do not measure 'x_t', .*\(Initial\(field, value\), and order=1"),
    ([x.diff(t, 2) + x], {"conditions": [Initial(x, 1.0)]}, r"initial value of 'x_t' \(Initial\(x, value, order=1\)\)"),
    ([x.diff(t, 2) + x, x.diff(t) - 1], {"data": _obs().drop_vars("y")}, r"equation 2 .* no time derivative"),
    ([x.diff(t) - y, x - y], {"data": _obs()}, r"equation 2 .* no time derivative of a field"),
    ([x.diff(t) + y.diff(t), y.diff(t) - x], {"data": _obs()}, r"time derivatives of x and y; .* one equation per"),
    ([x.diff(t) - y, x.diff(t) + y], {"data": _obs()}, r"equations 1 and 2 both give dx/dt"),
    ([x.diff(t) ** 2 - y, y.diff(t)], {"data": _obs()}, r"does not give dx/dt as one expression"),
    ([x.diff(t) + x], {}, r"neither initial values nor data"),
    ([x.diff(t) - y, y.diff(t) + x], {"conditions": [Initial(x, 1.0)]}, r"initial value of 'y' is missing"),
    ([x.diff(t) + x], {"conditions": [Initial(x, 1.0)], "symmetries": [Conserved(x, over=[t])]}, r"over=\[\]"),
    ([x.diff(t) + x], {"conditions": [Initial(x, 0.0, order=1)], "data": _obs().drop_vars("y")},
     r"initial values only .* or solve with --model mlp or kan"),
])
def test_a_problem_that_is_no_first_order_system_is_refused_with_the_fix(equations, kw, match):
    with pytest.raises(ProblemError, match=match):
        _ode(equations, **kw)


def test_a_second_order_equation_is_read_as_a_first_order_system_of_the_field_and_its_rate():
    # x'' + 2 zeta w x' + w^2 x = 0 (as a physicist writes it), y' = x' coupled to the rate.
    zeta, w = Parameter("zeta", 0.1), Parameter("w", 2.0)
    p = _ode([x.diff(t, 2) + 2 * zeta * w * x.diff(t) + w**2 * x, y.diff(t) - x.diff(t) * x],
             conditions=[Initial(x, 1.0), Initial(x, 0.5, order=1), Initial(y, 0.0)],
             symmetries=[Conserved(x.diff(t) ** 2 / 2 + w**2 * x**2 / 2, over=[])])
    assert p.state_names == ("x", "x_t", "y")
    assert p.initial == {sp.Symbol("x"): 1.0, sp.Symbol("x_t"): 0.5, sp.Symbol("y"): 0.0}
    c = p.compile()
    u = jnp.array([[0.3, -0.7, 2.0]])
    np.testing.assert_allclose(np.asarray(c.rhs(0.0, u, jnp.zeros(0), jnp.zeros(0))),
                               [[-0.7, -2 * 0.1 * 2.0 * -0.7 - 4.0 * 0.3, -0.7 * 0.3]], rtol=1e-6)
    assert float(c.invariants["conserved#0"](u, jnp.zeros(0))[0]) == pytest.approx(0.7**2 / 2 + 2 * 0.3**2)
    # The derivative's state name must not be taken by a field.
    x_t = Field("x_t", t)
    with pytest.raises(ProblemError, match="'x_t' .* is also the name of a field; rename"):
        _ode([x.diff(t, 2) + x, x_t.diff(t) - x], conditions=[Initial(x, 1.0), Initial(x, 0.0, order=1),
                                                           Initial(x_t, 0.0)])


@pytest.mark.parametrize("model", ["ltc", "cfc"])
def test_a_forecaster_refuses_a_state_no_datum_measures(model):
    import sciml

    problem = Problem(name="osc", domain=TimeInterval(t, 0, 1), equations=[x.diff(t, 2) + x],
                      conditions=[Initial(x, 1.0), Initial(x, 0.0, order=1)], data=_obs().drop_vars("y"))
    with pytest.raises(ValueError, match=f"{model} forecasts the measured states .* never measure 'x_t'; choose "
                                         "--model node or kan-ode"):
        sciml.solve(problem, model=model, steps=2)


def test_a_pde_problem_is_no_ode_system():
    s = Coordinate("s")
    u = Field("u", s, t)
    problem = Problem(name="heat", domain=Interval(s, 0, 1) * TimeInterval(t, 0, 1), equations=[u.diff(t) - u.diff(s, 2)])
    with pytest.raises(ProblemError, match="lives on a time interval alone"):
        ode_system(problem)


def test_compile_mixes_known_identified_and_unknown_terms():
    a, b = Parameter("a", 1.3), Parameter("b", 2.0, learn=True)
    # An implicit rate (2 x' = ...) is solved for x'.
    p = _ode([2 * x.diff(t) - 2 * (a * x + Unknown("U1", [x, y])), y.diff(t) - (-b * y + x * Unknown("U2", [x]))],
             conditions=[Initial(x, 1.0), Initial(y, 2.0)], symmetries=[Conserved(x + y, over=[])])
    assert p.unknown_names == ("U1", "U2") and p.identify == {b: 2.0} and p.parameters == {a: 1.3}
    c = p.compile()
    u = jnp.array([[0.5, 2.0]])
    out = c.rhs(0.0, u, jnp.array([1.8]), jnp.array([[0.1, 3.0]]))
    np.testing.assert_allclose(np.asarray(out), [[1.3 * 0.5 + 0.1, -1.8 * 2.0 + 0.5 * 3.0]], rtol=1e-6)
    assert c.unknown_arity == (2, 1)
    np.testing.assert_allclose(np.asarray(c.unknown_inputs[1](0.0, u)), [[0.5]])
    assert float(c.invariants["conserved#0"](u, jnp.array([1.8]))[0]) == pytest.approx(2.5)
    np.testing.assert_allclose(p.initial_state(), [[1.0, 2.0]])


def test_an_invariant_over_no_coordinate_is_a_loss_term_of_collocation():
    from sciml.dsl.compile import compile_problem

    q, p = Field("q", t), Field("p", t)
    problem = Problem(name="spring", domain=TimeInterval(t, 0, 3), equations=[q.diff(t) - p, p.diff(t) + q],
                      conditions=[Initial(q, 1.0), Initial(p, 0.0)], symmetries=[Conserved((q**2 + p**2) / 2, over=[])])
    (term,) = [term for term in compile_problem(problem).terms if term.kind == "symmetry"]
    points = {k: jnp.asarray(v) for k, v in term.sample(8, np.random.default_rng(0), "uniform").items()}
    assert float(term.evaluate(lambda z: jnp.stack([jnp.cos(z[0]), -jnp.sin(z[0])]), {}, points)) < 1e-12
    assert float(term.evaluate(lambda z: jnp.stack([jnp.cos(z[0]), -2 * jnp.sin(z[0])]), {}, points)) > 0.1


def test_observations_gain_a_trajectory_dimension():
    p = _ode([x.diff(t) + y, y.diff(t) - x], data=_obs())
    assert p.observations["x"].dims == ("trajectory", "time")
    np.testing.assert_allclose(p.initial_state(), [[1.0, 0.0]])


# ----------------------------------------------------------------------------- exact data
def test_invariants_of_exact_solutions_do_not_drift():
    lv = data.lotka_volterra(np.linspace(0, 20, 201))
    # V = gamma x - delta ln x + beta y - alpha ln y is a first integral of Lotka-Volterra
    V = lambda u: 0.8 * u[..., 0] - 1.8 * np.log(u[..., 0]) + 0.9 * u[..., 1] - 1.3 * np.log(u[..., 1])
    u = np.stack([lv.x.values, lv.y.values], -1)
    drift = lambda f, u: float(np.max(np.abs(f(u) - f(u)[..., :1]) / np.abs(f(u)[..., :1])))
    assert drift(V, u) < 1e-6  # zero up to the 1e-10 integration tolerance
    ms = data.mass_spring(n_trajectories=3, ts=np.linspace(0, 20, 101))
    H = lambda u: 0.5 * u[..., 0] ** 2 + 0.5 * u[..., 1] ** 2
    assert drift(H, np.stack([ms.q.values, ms.p.values], -1)) < 1e-6
    tb = data.two_body(np.linspace(0, 10, 101))
    u = np.stack([tb[k].values for k in ("qx", "qy", "px", "py")], -1)
    E = lambda u: 0.5 * (u[..., 2] ** 2 + u[..., 3] ** 2) - 1 / np.hypot(u[..., 0], u[..., 1])
    L = lambda u: u[..., 0] * u[..., 3] - u[..., 1] * u[..., 2]
    assert drift(E, u) < 1e-6 and drift(L, u) < 1e-6


def test_recipes_have_named_layout():
    for ds, names in [(data.damped_pendulum(np.linspace(0, 1, 5)), ["theta", "omega"]),
                      (data.nonlinear_oscillator(4, np.linspace(0, 1, 5)), ["y1", "y2"])]:
        assert list(ds.data_vars) == names and ds[names[0]].dims == ("trajectory", "time")
    obs, ref = data.lotka_volterra_ude_data()
    assert obs.sizes["time"] == 31 and float(obs.time[-1]) == 3.0 and float(ref.time[-1]) == 50.0
    assert 0 < float(np.abs(obs.x - data.lotka_volterra().x).mean()) < 0.2


# ----------------------------------------------------------------------------- neural ODE
def test_integrate_matches_exact_solution_and_irregular_times():
    ts = jnp.array([0.0, 0.13, 0.5, 1.7, 2.0])  # irregular
    sol = integrate(lambda t, u: jnp.stack([u[1], -u[0]]), jnp.array([1.0, 0.0]), ts, ODESolver(rtol=1e-8, atol=1e-8))
    np.testing.assert_allclose(np.asarray(sol[:, 0]), np.cos(np.asarray(ts)), atol=1e-5)
    node = NeuralODE(NeuralField(2, hidden=(8,), seed=0))
    per_traj = jnp.stack([ts, ts * 0.5])  # (B, T): each trajectory its own times
    out = node(per_traj, jnp.ones((2, 2)))
    np.testing.assert_allclose(np.asarray(out[1]), np.asarray(node(ts * 0.5, jnp.ones(2))), rtol=1e-5)


def test_kvaerno_selectable_and_step_budget_returns_inf():
    f = lambda t, u: -50.0 * (u - jnp.cos(t))
    ts = jnp.linspace(0, 1, 5)
    ok = integrate(f, jnp.array([0.0]), ts, ODESolver("kvaerno5"))
    assert np.all(np.isfinite(np.asarray(ok)))
    bad = integrate(f, jnp.array([0.0]), ts, ODESolver("tsit5", rtol=1e-10, atol=1e-10, max_steps=3))
    assert np.isinf(np.asarray(bad)).any()
    with pytest.raises(ValueError, match="kvaerno5"):
        ODESolver("rk99")


def test_ude_fit_recovers_missing_decay_with_nan_masked_irregular_data():
    # du/dt = -a u + U(u) with U(u) = -0.5 u; a known; sparse, partially missing data.
    u = Field("u", t)
    ts = np.array([0.0, 0.2, 0.3, 0.7, 1.1, 1.2, 1.9, 2.5, 3.0])
    truth = np.exp(-1.5 * ts)
    obs_vals = truth.copy()
    obs_vals[[2, 5]] = np.nan  # unobserved entries (NaN marks them on a trajectory's time axis)
    obs = xr.Dataset({"u": (("trajectory", "t"), obs_vals[None])}, coords={"t": ts})
    p = _ode([u.diff(t) - (-Parameter("a", 1.0) * u + Unknown("U", [u]))], t_end=3.0, data=obs)
    field = UDEField(p.compile(), hidden=(8,), activation="tanh", final_scale=0.1, seed=0)
    node = NeuralODE(field, ODESolver(rtol=1e-5, atol=1e-7))
    ys = np.asarray(p.observations["u"].values)[..., None]
    hist = fit_trajectories(node, ts, ys, trajectory_config(120, 2e-2), curriculum=(1.0,))
    assert hist["loss"][-1] < 0.05 * hist["loss"][0]
    learned = np.asarray(field.unknown_values(0.0, jnp.linspace(0.1, 1.0, 5)[:, None]))[:, 0]
    np.testing.assert_allclose(learned, -0.5 * np.linspace(0.1, 1.0, 5), atol=0.05)


def test_hidden_means_the_hidden_widths_and_unknown_options_are_named():
    from sciml.cli import _widths
    from sciml.dynamics.solve import _normalise_options

    p = _ode([x.diff(t) - Unknown("U1", [x, y]), y.diff(t) + x], data=_obs())
    opts = _normalise_options({"hidden": _widths("32,64", "--hidden"), "learning_rate": 1e-3}, "node")
    assert opts["learning_rate"] == 1e-3 and opts["network_options"] == {"hidden": [32, 64]}
    field = UDEField(p.compile(), seed=0, **opts["network_options"])
    assert [layer.out_features for layer in field.nets[0].layers] == [32, 64, 1]
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['width'\] for --model node"):
        _normalise_options({"width": [2, 5, 1]}, "node")


def test_multiple_shooting_runs_and_reduces_loss():
    ds = data.nonlinear_oscillator(2, np.linspace(0, 4, 11))
    ys = np.stack([ds.y1.values, ds.y2.values], -1)
    node = NeuralODE(NeuralField(2, hidden=(8,), seed=1), ODESolver(rtol=1e-3, atol=1e-5))
    hist = fit_trajectories(node, ds.time.values, ys, trajectory_config(30, 1e-2), shooting=2)
    assert hist["loss"][-1] < hist["loss"][0]
    assert hist["shooting_starts"].shape == (2, 2, 2)


@pytest.mark.slow  # ~28 s in the parallel suite; CI runs it in its slow list
def test_an_ensemble_trains_each_member_as_it_would_train_alone():
    """Members in one vmapped program, each with its own clipped Adam: the same parameters as
    separate runs (to the round-off a tight ODE tolerance leaves)."""
    from flax import nnx

    ds = data.nonlinear_oscillator(2, np.linspace(0, 2, 6))
    ys = np.stack([ds.y1.values, ds.y2.values], -1)
    make = lambda seed: NeuralODE(NeuralField(2, hidden=(8,), seed=seed), ODESolver(rtol=1e-7, atol=1e-9))  # noqa: E731
    config = trajectory_config(3, 1e-2, clip=0.5)  # a clip that acts
    alone = [make(seed) for seed in (0, 1)]
    alone_u0 = [fit_trajectories(m, ds.time.values, ys, config, curriculum=(1.0,))["u0"] for m in alone]
    together = [make(seed) for seed in (0, 1)]
    hist = fit_trajectories(together, ds.time.values, ys, config, curriculum=(1.0,))
    assert hist["u0"].shape == (2, 2, 2) and hist["member_loss"].shape == (2,)
    for a, b, u0, k in zip(alone, together, alone_u0, range(2)):
        for x, y in zip(jax.tree.leaves(nnx.state(a, nnx.Param)), jax.tree.leaves(nnx.state(b, nnx.Param))):
            np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=2e-6)
        np.testing.assert_allclose(hist["u0"][k], u0, atol=2e-6)
    first = jax.tree.leaves(nnx.state(together[0], nnx.Param))[0]
    assert not np.allclose(first, jax.tree.leaves(nnx.state(together[1], nnx.Param))[0])  # two seeds


@pytest.mark.slow  # ~40 s in the parallel suite; CI runs it in its slow list
def test_an_interrupted_trajectory_fit_resumes_in_its_stage(tmp_path):
    """SIGINT in the second curriculum stage: the checkpoint knows its stage and the losses
    before it; resumed, the fit ends where an uninterrupted one does."""
    import os
    import signal

    from flax import nnx

    from sciml.training.engine import TrainingInterrupted

    ds = data.nonlinear_oscillator(2, np.linspace(0, 2, 6))
    ys = np.stack([ds.y1.values, ds.y2.values], -1)
    make = lambda: NeuralODE(NeuralField(2, hidden=(8,), seed=0), ODESolver(rtol=1e-7, atol=1e-9))  # noqa: E731
    config = trajectory_config(8, 1e-2, chunk=1)
    calls = {"n": 0, "stop_at": 0}

    def tick():
        calls["n"] += 1
        if calls["n"] == calls["stop_at"]:
            os.kill(os.getpid(), signal.SIGINT)

    def run(**kw):
        model = make()
        hist = fit_trajectories(model, ds.time.values, ys, config, curriculum=(0.5, 1.0),
                                extra_loss=lambda m: (jax.debug.callback(tick), 0.0)[1], **kw)
        return hist, [np.asarray(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))]

    straight, params = run()
    straight_calls = calls["n"]
    path = tmp_path / "checkpoint.msgpack"
    calls.update(n=0, stop_at=straight_calls * 5 // 8)  # inside the second stage
    with pytest.raises(TrainingInterrupted):
        run(checkpoint=path)
    calls.update(n=0, stop_at=0)
    resumed, params_resumed = run(checkpoint=path, resume=True)
    assert 0 < calls["n"] < straight_calls / 2  # it went on from the checkpoint, not from the start
    assert len(resumed["loss"]) == len(straight["loss"]) == 8
    np.testing.assert_allclose(resumed["loss"], straight["loss"], rtol=1e-6)
    for a, b in zip(params, params_resumed):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)


def test_members_that_disagree_make_the_verdict_doubtful():
    from sciml.verdict import judge

    assert judge({"disagreement": {"members' predictions of x": 0.02}}) == []
    reasons = judge({"disagreement": {"members' predictions of x": 0.4}})
    assert len(reasons) == 1 and "members' predictions of x" in reasons[0]


def test_known_initial_state_is_held_fixed_and_first_observation_may_be_missing():
    ds = data.nonlinear_oscillator(2, np.linspace(0, 2, 6))
    ys = np.stack([ds.y1.values, ds.y2.values], -1)
    known = ys[:, 0].copy()
    ys[:, 0] = ys[:, 0] + 0.3  # a noisy first observation must not replace the known state
    ys[0, 0, 1] = np.nan
    node = NeuralODE(NeuralField(2, hidden=(8,), seed=1), ODESolver(rtol=1e-3, atol=1e-5))
    hist = fit_trajectories(node, ds.time.values, ys, trajectory_config(5, 1e-2), initial_states=known)
    np.testing.assert_allclose(hist["u0"], known, rtol=1e-6)


# ----------------------------------------------------------------------------- Hamiltonian flows
def test_leapfrog_has_no_energy_drift():
    from sciml.dynamics.hamiltonian import HamiltonianField, HamiltonianODE

    field = HamiltonianField(1, hidden=(16,), seed=0)
    model = HamiltonianODE(field, substeps=10)
    ts = jnp.linspace(0, 100, 1001)
    traj = model(ts, jnp.array([[0.5, 0.3]]))
    e = np.asarray(field.energy(traj))
    assert np.abs(e - e[:, :1]).max() < 1e-3 * max(1.0, np.abs(e).max())
    vf = field(0.0, jnp.array([0.5, 0.3]))
    assert vf.shape == (2,)


# ----------------------------------------------------------------------------- sparse regression
def test_sparse_fit_recovers_lorenz_from_clean_data():
    ds = data.lorenz(np.arange(0, 5, 0.002))
    X = np.stack([ds[k].values[0] for k in "xyz"], -1)
    dX = finite_difference(ds.time.values, X)
    X_, Y_, Z_ = sp.symbols("x y z")
    ex = sparse_fit(X, dX, [X_, Y_, Z_], degree=2, threshold=0.5)
    target = [10 * Y_ - 10 * X_, 28 * X_ - X_ * Z_ - Y_, X_ * Y_ - sp.Rational(8, 3) * Z_]
    for got, want in zip(ex, target):
        got_d, want_d = sp.Poly(got, X_, Y_, Z_).as_dict(), sp.Poly(want, X_, Y_, Z_).as_dict()
        assert set(got_d) == set(want_d)
        for k in want_d:
            assert abs(float(got_d[k]) / float(want_d[k]) - 1) < 1e-2


# ----------------------------------------------------------------------------- any surrogate by name
def _decay(trajectories=1):
    ts = np.linspace(0, 1, 11)
    values = np.exp(-0.5 * ts)[None] * np.arange(1, trajectories + 1)[:, None]
    return Problem(name="decay", domain=TimeInterval(t, 0, 1), equations=[x.diff(t) + Parameter("k", 0.5) * x],
                   data=xr.Dataset({"x": (("trajectory", "t"), values)}, coords={"t": ts}))


# node: ~25 s in the parallel suite; CI runs it in its slow list (ltc stands for the trajectory models here)
@pytest.mark.parametrize("model", ["mlp", pytest.param("node", marks=pytest.mark.slow), "ltc"])
def test_an_ode_problem_is_solved_by_a_collocation_or_a_trajectory_model(model):
    import sciml

    result = sciml.solve(_decay(), model=model, steps=3, lbfgs_steps=0, progress=False)
    assert result.metrics["steps"] == 3 and result.metrics["n_params"] > 0
    assert "x" in result.to_xarray() or "x_observed" in result.to_xarray()


# node: ~22 s in the parallel suite; CI runs it in its slow list
@pytest.mark.parametrize("model", ["mlp", pytest.param("node", marks=pytest.mark.slow)])
def test_collocation_and_trajectory_runs_report_error_and_parameters_under_one_name(model):
    import sciml

    ts = np.linspace(0, 1, 11)
    problem = Problem(name="decay", domain=TimeInterval(t, 0, 1), equations=[x.diff(t) + Parameter("k", 0.2, learn=True) * x],
                      data=xr.Dataset({"x": ("t", np.exp(-0.5 * ts))}, coords={"t": ts}),
                      reference=xr.Dataset({"x": ("t", np.exp(-0.5 * ts))}, coords={"t": ts}))
    metrics = sciml.solve(problem, model=model, steps=3, lbfgs_steps=0, progress=False).metrics
    assert set(metrics["parameters"]) == {"k"} and np.isfinite(metrics["parameters"]["k"])
    assert np.isfinite(metrics["rel_l2"]) and metrics["rel_l2"] > 0


def test_a_model_that_does_not_fit_the_problem_is_refused_with_those_that_do():
    import sciml

    s = Coordinate("s")
    u = Field("u", s, t)
    heat = Problem(name="heat", domain=Interval(s, 0, 1) * TimeInterval(t, 0, 1), equations=[u.diff(t) - u.diff(s, 2)])
    with pytest.raises(ValueError, match=r"--model 'node' does not fit 'heat', a PDE problem; choose one of: kan, mlp"):
        sciml.solve(heat, model="node")
    with pytest.raises(ValueError, match=r"unknown model 'rnn' for 'decay', an ODE problem; choose one of: .*node"):
        sciml.solve(_decay(), model="rnn")
    with pytest.raises(ValueError, match=r"2 trajectories in its data; choose a trajectory model: .*node"):
        sciml.solve(_decay(2), model="kan")
