"""Edges fixed to formulas: exact evaluation, trainable constants, unfixing, suggestions."""

import numpy as np
import pytest
import sympy as sp
from flax import nnx

from sciml.models.kan import KAN, kan_from_bytes, kan_to_bytes
from sciml.models.kan_fix import fix_edge, network_formula, unfix_edge
from sciml.models.kan_prune import apply_masks, compact
from sciml.models.kan_train import fit_data
from sciml.symbolic.suggest import format_suggestions, suggest

X = np.random.default_rng(0).uniform(-1, 1, (256, 2)).astype(np.float32)


def _edge(model, layer, i, j, x):
    return np.asarray(model.layers[layer].edge_function(x))[:, i, j]


def test_a_fixed_edge_stays_exactly_its_formula_through_training():
    model = fix_edge(KAN([2, 3, 1], rngs=nnx.Rngs(0)), 0, 1, 2, "sin", constants=(2.0, 0.5, 1.5, 0.1))
    y = np.cos(X[:, :1]) + X[:, 1:] ** 2
    trained = fit_data(model, X, y, steps=60, optimizer="adam", learning_rate=2e-2).model
    a, b, c, d = np.asarray(trained.layers[0].symbolic.affine[...])[0]
    assert not np.allclose((a, b, c, d), (2.0, 0.5, 1.5, 0.1))  # the constants moved ...
    phi = _edge(trained, 0, 1, 2, X)
    np.testing.assert_allclose(phi, c * np.sin(a * X[:, 1] + b) + d, rtol=0, atol=2e-6)  # ... the form did not
    # the dormant spline of the fixed edge receives no gradient
    np.testing.assert_array_equal(trained.layers[0].coef[...][1, 2], model.layers[0].coef[...][1, 2])


def test_the_constants_of_a_fixed_edge_train_to_the_data():
    x = np.linspace(-1, 1, 200, dtype=np.float32)[:, None]
    y = 1.5 * np.sin(2.0 * x + 0.3) - 0.2
    model = fix_edge(KAN([1, 1], rngs=nnx.Rngs(0)), 0, 0, 0, "sin", constants=(1.6, 0.0, 1.0, 0.0))
    trained = fit_data(model, x, y, steps=200).model
    a, b, c, d = np.asarray(trained.layers[0].symbolic.affine[...])[0]
    np.testing.assert_allclose([a, b, c, d], [2.0, 0.3, 1.5, -0.2], atol=2e-3)
    expr = network_formula(trained, ["x"])[0]
    assert expr.has(sp.sin) and not expr.atoms(sp.core.function.AppliedUndef)


def test_fixing_fits_the_constants_to_the_edge_and_accepts_expressions():
    model = fix_edge(KAN([1, 1], rngs=nnx.Rngs(0)), 0, 0, 0, "x^2", constants=(1.0, 0.2, -0.7, 0.4))
    x = np.linspace(-1, 1, 101, dtype=np.float32)[:, None]
    refixed = fix_edge(unfix_edge(model, 0, 0, 0), 0, 0, 0, "x**2 + 0*sin(x)", samples=x)
    np.testing.assert_allclose(refixed(x), model(x), atol=2e-3)
    with pytest.raises(ValueError, match="not fixed"):
        unfix_edge(KAN([1, 1], rngs=nnx.Rngs(0)), 0, 0, 0)
    with pytest.raises(ValueError, match="neither a primitive"):
        fix_edge(model, 0, 0, 0, "sin(")
    with pytest.raises(ValueError, match="neither a primitive"):  # text is parsed, never run
        fix_edge(model, 0, 0, 0, '__import__("os").system("true")')


def test_unfixing_restores_a_spline_that_matches_the_formula_on_the_grid_range():
    model = KAN([1, 2], grid=20, rngs=nnx.Rngs(0))
    fixed = fix_edge(model, 0, 0, 1, "sin", constants=(3.0, 0.4, 1.2, -0.3))
    spline = unfix_edge(fixed, 0, 0, 1)
    assert spline.layers[0].symbolic is None
    x = np.linspace(-1, 1, 401, dtype=np.float32)[:, None]
    formula = 1.2 * np.sin(3.0 * x[:, 0] + 0.4) - 0.3
    np.testing.assert_allclose(_edge(spline, 0, 0, 1, x), formula, atol=1e-4)
    np.testing.assert_allclose(_edge(spline, 0, 0, 0, x), _edge(model, 0, 0, 0, x), atol=1e-7)  # others untouched


def test_fixed_edges_survive_checkpoints_and_pruning():
    model = fix_edge(KAN([2, 3, 1], rngs=nnx.Rngs(1)), 0, 1, 2, "exp", constants=(0.5, 0.0, 1.0, 0.0))
    model = fix_edge(model, 1, 2, 0, "x^2", constants=(1.0, 0.1, 2.0, 0.0))
    np.testing.assert_array_equal(kan_from_bytes(kan_to_bytes(model))(X), model(X))
    masks = [np.ones((2, 3)), np.ones((3, 1))]
    masks[1][0, 0] = 0.0  # hidden node 0 loses its only outgoing edge
    small = compact(apply_masks(model, masks))
    assert small.widths == [2, 2, 1]
    assert small.layers[0].symbolic.edges == ((1, 1, "exp"),) and small.layers[1].symbolic.edges == ((1, 0, "x^2"),)
    np.testing.assert_allclose(small(X), apply_masks(model, masks)(X), rtol=1e-6, atol=1e-6)


def test_formula_of_a_partly_fixed_network_names_the_spline_edges():
    model = fix_edge(KAN([2, 1], rngs=nnx.Rngs(0)), 0, 0, 0, "sin", constants=(np.pi, 0.0, 1.0, 0.0))
    x, y = sp.symbols("x y", real=True)
    expr = network_formula(model, [x, y])[0]
    (sine,) = expr.atoms(sp.sin)
    assert abs(float(sine.args[0].coeff(x)) - np.pi) < 1e-6
    assert sp.Function("phi_0_1_0")(y) in expr.atoms(sp.core.function.AppliedUndef)


@pytest.mark.parametrize("truth", ["sin", "x^2", "exp", "1/x"])
def test_suggestions_rank_the_true_primitive_first(truth):
    constants = {"sin": (2.5, 0.3, 1.0, 0.2), "x^2": (1.0, 0.3, 0.8, -0.1), "exp": (1.2, 0.0, 0.5, 0.0),
                 "1/x": (1.0, 2.0, 1.0, 0.0)}[truth]
    # a spline edge that learned the function (fixed, then unfixed onto a fine grid)
    model = unfix_edge(fix_edge(KAN([1, 1], grid=30, rngs=nnx.Rngs(0)), 0, 0, 0, truth, constants=constants), 0, 0, 0)
    x = np.linspace(-1, 1, 500, dtype=np.float32)[:, None]
    (edge,) = suggest(model, x, top_k=3)
    assert edge.best.name == truth, format_suggestions([edge])
    assert edge.best.r2 > 0.9999
