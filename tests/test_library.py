"""The primitive library: portable forms, files, deduplication, hybrid networks, hunger."""

from __future__ import annotations

import json

import jax.numpy as jnp
import numpy as np
import pytest

from sciml.library import (LibraryFileError, PrimitiveLibrary, Provenance, deduplicate, from_samples,
                           from_symbolic, harvest, load_library, save_library)
from sciml.library.collection import as_activations
from sciml.library.gates import GateAnnealing, GatedActivation, gate_entropy, harden, set_temperature
from sciml.library.hunger import measure_hunger
from sciml.models import build_model
from sciml.models.registry import model_penalty


def _edge(x, y, layer=0):
    return from_samples("e", x, y, provenance=Provenance("constructed", layer, 0, 0, 0.0, (0.0, 0.0), 0.0, 1.0))


# ----------------------------------------------------------------------------- portable form
def test_portable_form_normalises_and_continues_linearly():
    x = np.linspace(-3.0, 3.0, 201)
    member = _edge(x, 2.0 * np.sin(x) + 5.0)
    t = 2.0 * (x - x.min()) / np.ptp(x) - 1.0
    target = (2.0 * np.sin(x) + 5.0 - 5.0) / np.std(2.0 * np.sin(x))
    assert np.max(np.abs(np.asarray(member(t)) - target)) < 1e-3
    assert member.provenance[0].x_range == (-3.0, 3.0) and abs(member.provenance[0].y_mean - 5.0) < 1e-9
    # beyond [-1, 1]: straight lines with the end slopes, inside the Lipschitz bound
    outside = np.asarray(member(jnp.asarray([1.0, 2.0, 3.0])))
    assert abs((outside[2] - outside[1]) - (outside[1] - outside[0])) < 1e-5
    assert abs(outside[2] - outside[1]) <= member.lipschitz
    with pytest.raises(ValueError, match="constant"):
        _edge(x, np.ones_like(x))


def test_series_derivatives_of_every_order_in_t_and_in_the_coefficients():
    """The series' custom derivatives against numpy's chebder/chebval in float64: inside
    [-1, 1] up to third order, the constant end slope and zero curvature outside, and the
    gradient in the coefficients (T_k(t), continued linearly), mixed with a t-derivative."""
    import jax
    from numpy.polynomial import chebyshev as C

    from sciml.library.primitive import chebyshev_series

    c = np.random.default_rng(0).standard_normal(17) / (1.0 + np.arange(17))
    coefficients = jnp.asarray(c, jnp.float32)
    inside = np.linspace(-0.999, 0.999, 401)
    g = lambda t: chebyshev_series(coefficients, t)  # noqa: E731
    for order in range(4):
        exact = C.chebval(inside, C.chebder(c, order) if order else c)
        got = np.asarray(jax.vmap(g)(jnp.asarray(inside, jnp.float32)), np.float64)
        assert np.max(np.abs(got - exact)) <= 2e-5 * max(1.0, np.max(np.abs(exact))), order
        g = jax.grad(g)
    outside = jnp.asarray([1.5, 2.5, -1.5, -3.0], jnp.float32)
    slope = jax.vmap(jax.grad(lambda t: chebyshev_series(coefficients, t)))(outside)
    ends = C.chebval(np.array([1.0, 1.0, -1.0, -1.0]), C.chebder(c))
    np.testing.assert_allclose(np.asarray(slope), ends, rtol=1e-4)
    curvature = jax.vmap(jax.grad(jax.grad(lambda t: chebyshev_series(coefficients, t))))(outside)
    assert np.all(np.asarray(curvature) == 0.0)
    t = jnp.asarray([-2.0, -0.3, 0.4, 1.7], jnp.float32)
    basis = np.stack([C.chebval(np.clip(np.asarray(t), -1, 1), np.eye(17)[k]) for k in range(17)], axis=1)
    ends = np.where(np.asarray(t)[:, None] > 1, np.arange(17.0) ** 2, (-1.0) ** (np.arange(17) + 1) * np.arange(17.0) ** 2)
    basis = basis + ends * (np.asarray(t) - np.clip(np.asarray(t), -1, 1))[:, None]
    gradient = jax.jacobian(lambda cc: chebyshev_series(cc, t))(coefficients)
    np.testing.assert_allclose(np.asarray(gradient), basis, rtol=1e-5, atol=1e-5)
    mixed = jax.grad(lambda cc: jnp.sum(jax.vmap(jax.grad(lambda s: chebyshev_series(cc, s)))(t)))(coefficients)
    derivative_basis = np.stack([C.chebval(np.clip(np.asarray(t), -1, 1), C.chebder(np.eye(17)[k])) for k in range(17)], 1)
    np.testing.assert_allclose(np.asarray(mixed), derivative_basis.sum(0), rtol=1e-5, atol=1e-3)


def test_unit_slope_activations_keep_the_shape_and_tame_steep_members():
    x = np.linspace(-1.0, 1.0, 401)
    wiggly = _edge(x, np.sin(12.0 * x))  # unit spread, slope about 17
    exact = from_symbolic("sin", a=3.0)
    assert wiggly.rms_slope() > 10.0
    library = as_activations(PrimitiveLibrary("t", [wiggly, exact, from_symbolic("x")]), max_roughness=None)
    assert [m.name for m in library] == ["e", "sin"]  # the linear member dropped
    for before, after in zip((wiggly, exact), library):
        assert after.rms_slope() == pytest.approx(1.0, rel=1e-3)
        ratio = np.asarray(after(jnp.asarray(x))) / np.where(np.abs(before(x)) > 0.1, before(x), np.nan)
        assert np.nanstd(ratio) < 1e-4 * np.nanmean(np.abs(ratio))  # the same shape, scaled
    assert list(library)[1].exact.affine[2] == pytest.approx(1.0 / exact.rms_slope())
    with pytest.raises(ValueError, match="non-zero"):
        exact.scaled(0.0)
    # by default members wigglier than sin(2 pi t) are dropped: sin(12 t) goes, sin(3 t) stays
    assert wiggly.roughness() == pytest.approx(12.0, rel=0.1) and exact.roughness() == pytest.approx(3.0, rel=0.1)
    assert as_activations(PrimitiveLibrary("t", [wiggly, exact])).names == ["sin"]
    assert from_symbolic("tanh").roughness() < 1.0 and from_symbolic("x").roughness() < 1e-2


def test_activations_keep_built_in_then_the_most_supported_members():
    import dataclasses

    x = np.linspace(-1.0, 1.0, 201)
    found = [_edge(x, np.tanh((1.0 + 0.3 * k) * x) + 0.1 * k * x**2).with_name(f"p{k}") for k in range(5)]
    found = [dataclasses.replace(m, provenance=m.provenance * (1 + (k * 3) % 5)) for k, m in enumerate(found)]
    support = {m.name: len(m.provenance) for m in found}  # p0 1, p1 4, p2 2, p3 5, p4 3
    built_in = from_symbolic("sin")
    kept = as_activations(PrimitiveLibrary("t", [*found, built_in]), max_members=3)
    assert kept.names == ["p1", "p3", "sin"]  # library order; the two most supported and the built-in one
    assert as_activations(kept, max_members=3) == kept
    assert len(as_activations(PrimitiveLibrary("t", found), max_members=None)) == 5
    assert support["p3"] == 5


# ----------------------------------------------------------------------------- files
def test_library_file_round_trips_and_is_found_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("SCIML_LIBRARY_DIR", str(tmp_path))
    x = np.linspace(-1.0, 2.0, 101)
    library = PrimitiveLibrary("mine", [from_symbolic("tanh", a=2.0), _edge(x, np.tanh(3 * x) + 0.4 * np.sin(5 * x))
                                        .with_name("p0")])
    path = save_library(library)
    assert path == tmp_path / "mine.json"
    loaded = load_library("mine")
    assert loaded == library and load_library(path) == library
    t = jnp.linspace(-1.5, 1.5, 37)
    for a, b in zip(library, loaded):
        np.testing.assert_allclose(np.asarray(b(t)), np.asarray(a(t)), rtol=1e-6, atol=1e-6)
        assert b.provenance == a.provenance and b.cost == a.cost


def test_library_file_of_another_version_or_malformed_is_refused(tmp_path):
    path = save_library(PrimitiveLibrary("mine", [from_symbolic("sin")]), tmp_path / "mine.json")
    document = json.loads(path.read_text())
    for change, message in [({"version": 2}, "version 2 library file; this sciml reads version 1"),
                            ({"format": "other"}, "is not a primitive library")]:
        (tmp_path / "bad.json").write_text(json.dumps({**document, **change}))
        with pytest.raises(LibraryFileError, match=message):
            load_library(tmp_path / "bad.json")
    # names are data: an exact form may only name one of the symbolic stage's primitives
    bad = json.loads(path.read_text())
    bad["primitives"][0]["exact"]["primitive"] = "__import__('os').system('true')"
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(LibraryFileError, match="not a primitive of the symbolic stage"):
        load_library(tmp_path / "bad.json")
    bad = json.loads(path.read_text())
    bad["primitives"][0]["chebyshev"][0] = "1e3"
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(LibraryFileError, match="not a finite number"):
        load_library(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="letters, digits"):
        load_library("../../etc/passwd")
    with pytest.raises(FileNotFoundError, match="no primitive library"):
        load_library(tmp_path / "absent.json")


# ----------------------------------------------------------------------------- dedup
def test_dedup_merges_affine_equivalent_edges_and_names_known_ones():
    x1, x2, x3, x4 = (np.linspace(*r, 101) for r in [(-2.0, 1.0), (-3.0, 3.0), (-1.0, 2.0), (-1.0, 1.0)])
    edges = [_edge(x1, 3 * np.sin(2 * x1 + 1) + 0.5, layer=0),  # sin over [-3, 3], stretched and shifted
             _edge(x2, np.sin(x2), layer=1),
             _edge(x3, x3**2, layer=2),
             _edge(x4, np.tanh(3 * x4) + 0.4 * np.sin(5 * x4), layer=3)]  # no symbolic primitive
    library = deduplicate(edges, name="constructed", prefix="new")
    assert sorted(library.names) == ["new0", "sin", "x^2"]
    assert sorted(p.layer for p in library["sin"].provenance) == [0, 1]
    assert [p.layer for p in library["x^2"].provenance] == [2]
    assert library["new0"].exact is None and library["sin"].exact.primitive == "sin"


# ----------------------------------------------------------------------------- harvest
def test_harvest_of_a_trained_kan_finds_its_edges():
    from sciml.models.kan_train import fit_data

    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 1.0, (200, 2))
    y = np.sin(3 * x[:, :1]) + x[:, 1:] ** 2
    kan = fit_data(build_model("kan", 2, 1, hidden=(), grid=8), x, y, steps=80, grid_updates=2).model
    found = harvest(kan, problem="toy", samples=x)
    assert sorted((p.provenance[0].layer, p.provenance[0].input) for p in found) == [(0, 0), (0, 1)]
    assert all(p.fit_r2 > 0.9999 and p.provenance[0].problem == "toy" for p in found)
    library = deduplicate(found, into=PrimitiveLibrary("lib", [from_symbolic("tanh")]))
    assert library.names == ["tanh", "x^2", "sin"] or library.names == ["tanh", "sin", "x^2"]


# ----------------------------------------------------------------------------- hybrid networks
def test_mlp_lib_gates_penalty_and_hardening():
    model = build_model("mlp-lib", 2, 1, hidden=(8, 8), gating="neuron", entropy_weight=0.5)
    x = jnp.linspace(-1.0, 1.0, 10).reshape(5, 2)
    assert model(x).shape == (5, 1)
    assert 0.99 < gate_entropy(model) <= 1.0 and abs(float(model_penalty(model)) - 2 * 0.5 * gate_entropy(model)) < 1e-5
    # a cold gate is its arg-max member: hardening then leaves the function unchanged
    for gate in [m for m in model.activation]:
        gate.logits[...] = gate.logits[...].at[:, 0].add(5.0).at[:3, 1].add(10.0)
    set_temperature(model, 0.01)
    hard = harden(model)
    np.testing.assert_allclose(np.asarray(hard(x)), np.asarray(model(x)), rtol=1e-5, atol=1e-5)
    # neurons reordered so that each member acts on one slice: tanh's five, then sin's three
    assert hard.activation[0].names == ["tanh"] * 5 + ["sin"] * 3 and hard.activation[0].contiguous
    assert model_penalty(hard) == 0.0
    GateAnnealing([(10, 0.5)])(model, 10, x)
    assert all(float(g.temperature[...]) == 0.5 for g in model.activation)
    with pytest.raises(ValueError, match="gating"):
        build_model("mlp-lib", 2, 1, gating="edge")


def test_hybrids_tame_the_library_they_are_given():
    """A harvested library passed by name or object is made safe as activations by the network
    itself: linear and very rough members dropped, the rest at unit RMS slope."""
    x = np.linspace(-1.0, 1.0, 401)
    library = PrimitiveLibrary("h", [_edge(x, np.sin(12.0 * x)).with_name("rough"), from_symbolic("x"),
                                     from_symbolic("sin", a=3.0)])
    gate = build_model("mlp-lib", 2, 1, hidden=(4,), library=library).activation[0]
    assert [m.name for m in gate.members] == ["sin"] and gate.members[0].rms_slope() == pytest.approx(1.0, rel=1e-3)
    assert as_activations(PrimitiveLibrary("h", gate.members)) == PrimitiveLibrary("h", gate.members)  # idempotent
    raw = build_model("mlp-lib", 2, 1, hidden=(4,), library=library, tame=False).activation[0]
    assert [m.name for m in raw.members] == ["rough", "x", "sin"]
    with pytest.raises(ValueError, match="no member usable as an activation"):
        build_model("mlp-lib", 2, 1, hidden=(4,), library=PrimitiveLibrary("lin", [from_symbolic("x")]))


def test_cfc_lib_forecaster_runs_with_gated_backbone():
    from sciml.models.registry import model_factory

    class System:
        states = ["u", "v"]

    ys = np.random.default_rng(0).normal(size=(2, 6, 2)).astype(np.float32)
    model = model_factory("cfc-lib", "trajectory")(System(), ys, units=4, backbone_units=8, gating="neuron")
    assert isinstance(model.rnn.cell.activation[0], GatedActivation) and model.rnn.config_json is None
    out = model.teacher_forced(jnp.arange(6.0), jnp.asarray(ys))
    assert out.shape == (2, 5, 2) and np.all(np.isfinite(np.asarray(out)))
    hard = harden(model)
    assert np.all(np.isfinite(np.asarray(hard.rollout(jnp.arange(6.0), jnp.asarray(ys[:, 0])))))


# ----------------------------------------------------------------------------- hunger
@pytest.mark.slow  # ~20 s in the parallel suite; CI runs it in its slow list
def test_hunger_rises_when_the_task_needs_a_missing_primitive():
    library = PrimitiveLibrary("tanh-square", [from_symbolic("tanh"), from_symbolic("x^2")])
    x = np.linspace(-1.0, 1.0, 100)[:, None]
    served = measure_hunger(library, x, np.tanh(2 * x))
    starving = measure_hunger(library, x, np.sin(np.pi * x))
    assert not served.hungry and served.closest == ("tanh",)
    assert starving.hungry and starving.score > served.score + 0.05
    assert "discover" in starving.proposal()


def test_a_registered_discovery_names_an_edge_of_the_next_problem(monkeypatch, request):
    """A shape no symbolic primitive has, once registered, is what the edge fit chooses, and
    a law naming it evaluates through its portable form."""
    import sympy as sp

    from sciml.symbolic import primitives
    from sciml.symbolic.fit import fit_edges, select

    monkeypatch.setattr(primitives.DEFAULT_LIBRARY, "_prims", dict(primitives.DEFAULT_LIBRARY._prims))
    from sciml.functions import NUMERIC_FUNCTIONS, numeric_modules

    assert "wiggle" not in NUMERIC_FUNCTIONS
    request.addfinalizer(lambda: NUMERIC_FUNCTIONS.pop("wiggle", None))
    shape = lambda x: np.sin(3 * x) / (1 + x**2)  # noqa: E731
    grid = np.linspace(-2, 2, 201)
    member = from_samples("wiggle", grid, shape(grid))
    x = np.linspace(-3, 3, 400)
    edge = 2.0 * shape(0.5 * x + 0.1) + 1.0
    before = select(fit_edges(x, edge))[0]
    assert before.name != "wiggle" and before.r2 < 0.999

    library = PrimitiveLibrary("mine", [member])
    assert library.register() == ["wiggle"] and library.register() == []
    after = select(fit_edges(x, edge))[0]
    assert after.name == "wiggle" and after.r2 > 0.9999

    z = sp.Symbol("z")
    law = sp.lambdify(z, 3 * sp.Function("wiggle")(z / 2) - 1, modules=numeric_modules("numpy"))
    t = np.linspace(-1, 1, 7)
    np.testing.assert_allclose(np.asarray(law(t)), 3 * np.asarray(member(t / 2)) - 1, rtol=1e-6)
    from sciml.symbolic.law import law_from_dict

    saved = law_from_dict({"expression": "3*wiggle(z/2) - 1", "inputs": ["z"], "target": "y"})
    np.testing.assert_allclose(saved(t[:, None]), 3 * np.asarray(member(t / 2)) - 1, rtol=1e-6)
    with pytest.raises(ValueError, match="already known"):
        PrimitiveLibrary("other", [from_samples("wiggle", grid, np.exp(-grid**2) * grid)]).register()


@pytest.mark.slow  # ~30 s in the parallel suite; CI runs it in its slow list
def test_gates_anneal_on_the_schedule_a_solve_is_given():
    import sciml
    from sciml.solver import load_problem, problem_path

    problem = load_problem(problem_path("heat"))
    solution = sciml.solve(problem, model="mlp-lib", steps=30, seed=0, lbfgs_steps=0, progress=False,
                           points={"interior": 64, "boundary": 16}, chunk=10, model_options={"hidden": [8, 8]},
                           gate_schedule=[[10, 0.5], [20, 0.05]])
    temperatures = [float(g.temperature[...]) for g in solution.model.activation]
    assert len(temperatures) == 2 and all(abs(t - 0.05) < 1e-6 for t in temperatures)
    with pytest.raises(ValueError, match="gate_schedule"):
        sciml.solve(problem, model="mlp-lib", steps=5, gate_schedule=[["x"]], progress=False)


# ----------------------------------------------------------------------------- PAU baseline
def test_pade_activation_starts_as_leaky_relu_has_finite_gradients_and_fits_a_rational():
    import jax
    from flax import nnx

    from sciml.library.pade import PadeActivation
    from sciml.models.kan_train import fit_data

    pau = PadeActivation()
    x = jnp.linspace(-3.0, 3.0, 60).reshape(6, 10)
    assert pau(x).shape == (6, 10)
    assert float(jnp.max(jnp.abs(pau(x) - jax.nn.leaky_relu(x, 0.01)))) < 0.1
    grads = nnx.grad(lambda m: jnp.sum(m(jnp.concatenate([x.ravel(), jnp.zeros(1)])) ** 2))(pau)
    assert all(np.all(np.isfinite(np.asarray(g))) for g in jax.tree.leaves(grads))
    # One hidden neuron: w2 s(w1 x + b1) + b2 can be a bump only if s can.
    t = np.linspace(-2.0, 2.0, 81)[:, None].astype(np.float32)
    y = 1.0 / (1.0 + 4.0 * t**2)
    errors = {}
    for name, act in [("tanh", "tanh"), ("pau", [PadeActivation()])]:
        model = build_model("mlp", 1, 1, hidden=(1,), activation=act, seed=0)
        fitted = fit_data(model, t, y, steps=200).model
        errors[name] = float(np.mean((np.asarray(fitted(jnp.asarray(t))) - y) ** 2))
    assert errors["pau"] < 0.1 * errors["tanh"], errors
