"""LTC and CfC cells against float64 references, solver convergence, wiring, save/load."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sciml.dynamics.io import load, save
from sciml.dynamics.liquid import CfCCell, LiquidRNN, LTCCell, ltc_step, ltc_vector_field
from sciml.dynamics.wiring import auto_ncp


def _np(p):
    return jax.tree.map(lambda a: np.asarray(a, np.float64), p)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def ltc_reference(p, v, x, dt, unfolds):
    """Float64 transcription of the ncps LTCCell forward (fused semi-implicit solver)."""
    x = x * p["input_w"] + p["input_b"]
    sw = p["sensory_w"] * _sigmoid(p["sensory_sigma"] * (x[:, :, None] - p["sensory_mu"])) * p["sensory_mask"]
    num_s = (sw * p["sensory_erev"]).sum(1)
    den_s = sw.sum(1)
    cm_t = p["cm"] / (dt[:, None] / unfolds)
    for _ in range(unfolds):
        w = p["w"] * _sigmoid(p["sigma"] * (v[:, :, None] - p["mu"])) * p["mask"]
        num = cm_t * v + p["gleak"] * p["vleak"] + (w * p["erev"]).sum(1) + num_s
        den = cm_t + p["gleak"] + w.sum(1) + den_s
        v = num / (den + 1e-8)
    return v


def cfc_reference(p, h, x, dt, mode):
    """Float64 transcription of the ncps CfCCell forward."""
    z = np.concatenate([x, h], -1)
    for W, b in p["backbone"]:
        z = 1.7159 * np.tanh(0.666 * (z @ W + b))
    t = dt[:, None]
    m = p["ff1_mask"]
    if mode == "pure":
        f = z @ (p["ff1_w"] * m) + p["ff1_b"]
        return -p["A"] * np.exp(-t * (np.abs(p["w_tau"]) + np.abs(f))) * f + p["A"]
    ff1 = np.tanh(z @ (p["ff1_w"] * m) + p["ff1_b"])
    ff2 = np.tanh(z @ (p["ff2_w"] * m) + p["ff2_b"])
    gate = _sigmoid((z @ (p["ta_w"] * m) + p["ta_b"]) * t + z @ (p["tb_w"] * m) + p["tb_b"])
    return ff1 + gate * ff2 if mode == "no_gate" else ff1 * (1 - gate) + gate * ff2


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    return rng.normal(size=(5, 3)), rng.normal(size=(5, 8)) * 0.5, rng.uniform(0.1, 2.0, 5)


@pytest.mark.parametrize("wiring", ["full", "ncp"])
def test_ltc_cell_matches_float64_reference(batch, wiring):
    x, v, dt = batch
    cell = LTCCell(3, 8, 2, wiring=wiring, seed=1)
    out = np.asarray(cell(jnp.asarray(v, jnp.float32), jnp.asarray(x, jnp.float32), jnp.asarray(dt, jnp.float32)))
    ref = ltc_reference(_np(cell.constrained()), v, x, dt, 6)
    np.testing.assert_allclose(out, ref, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("mode", ["default", "no_gate", "pure"])
@pytest.mark.parametrize("wiring", [None, "ncp"])
def test_cfc_cell_matches_float64_reference(batch, mode, wiring):
    x, h, dt = batch
    cell = CfCCell(3, 8, 2, mode=mode, backbone_units=16, wiring=wiring, seed=2)
    out = np.asarray(cell(jnp.asarray(h, jnp.float32), jnp.asarray(x, jnp.float32), jnp.asarray(dt, jnp.float32)))
    ref = cfc_reference(_np(cell.constrained()), h, x, dt, mode)
    np.testing.assert_allclose(out, ref, rtol=2e-5, atol=2e-5)


def test_cfc_uses_real_elapsed_time(batch):
    x, h, _ = batch
    cell = CfCCell(3, 8, seed=0)
    a = cell(jnp.asarray(h, jnp.float32), jnp.asarray(x, jnp.float32), 0.1)
    b = cell(jnp.asarray(h, jnp.float32), jnp.asarray(x, jnp.float32), 2.0)
    assert float(jnp.abs(a - b).max()) > 1e-3


def test_fused_ltc_converges_to_diffrax_as_unfolds_grow():
    from sciml.datasets.dynamics import integrate_exact

    cell = LTCCell(2, 6, seed=3)
    p = cell.constrained()
    v0 = np.linspace(-0.5, 0.5, 6)
    x = np.array([0.7, -0.3])
    dt = 1.0
    with jax.enable_x64(True):
        p64 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), p)
        exact = integrate_exact(lambda t, v, a: ltc_vector_field(p64, v, jnp.asarray(x)), v0[None], np.array([0.0, dt]))[0, -1]
        errs = []
        for unfolds in (1, 6, 36, 216):
            v = ltc_step(p64, jnp.asarray(v0)[None], jnp.asarray(x)[None], jnp.asarray([dt]), unfolds, eps=0.0)[0]
            errs.append(float(np.abs(np.asarray(v) - exact).max()))
    # semi-implicit Euler is first order: 6x more unfolds -> about 6x smaller error
    assert all(a / b > 4 for a, b in zip(errs[1:], errs[2:])), errs
    assert errs[-1] < 5e-3, errs


def test_ltc_diffrax_solver_option_matches_fine_fused():
    cell = LTCCell(2, 4, seed=4, solver="tsit5")
    fine = LTCCell(2, 4, seed=4, unfolds=400)
    v = jnp.zeros((3, 4))
    x = jnp.ones((3, 2)) * 0.5
    a = cell(v, x, 0.5)
    b = fine(v, x, 0.5)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=2e-3)


def test_auto_ncp_layers():
    w = auto_ncp(3, 16, 2, sparsity=0.5, seed=0)
    motor = np.arange(2)
    n_cmd = max(int(0.4 * 14), 1)
    command = np.arange(2, 2 + n_cmd)
    inter = np.arange(2 + n_cmd, 16)
    adj = np.abs(w.adjacency)
    assert adj[:, motor][np.r_[motor, inter]].sum() == 0  # motor hears command neurons only
    assert adj[:, inter].sum() == 0  # inter neurons hear sensory inputs only
    assert np.abs(w.sensory)[:, np.r_[motor, command]].sum() == 0
    assert (np.abs(w.sensory)[:, inter].sum(0) > 0).all()
    assert adj.sum() < 0.5 * 16 * 16  # sparse


@pytest.mark.parametrize("cell,opts", [("ltc", {}), ("cfc", {"mode": "pure"}), ("cfc", {"wiring": "ncp", "output_size": 3})])
def test_save_load_round_trip(tmp_path, cell, opts):
    m = LiquidRNN(cell, 2, 8, 2, seed=5, **opts)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(3, 7, 2)), jnp.float32)
    dt = jnp.linspace(0.1, 0.9, 7)
    y = m(x, dt)
    save(m, tmp_path / "m")
    m2 = load(tmp_path / "m")
    np.testing.assert_array_equal(np.asarray(m2(x, dt)), np.asarray(y))


def test_load_rejects_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        load(tmp_path / "nope")


@pytest.mark.parametrize("key", ["model", "class"])
def test_load_refuses_a_folder_naming_an_arbitrary_module(tmp_path, monkeypatch, key):
    """A saved-model folder is data: a config naming any module is refused, nothing imported."""
    import json
    import sys

    marker = tmp_path / "ran"
    (tmp_path / "evil_saved_model.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('imported')\nclass Model: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for i, name in enumerate(["evil_saved_model:Model", "os:system"]):
        folder = tmp_path / f"m{i}"
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({key: name, "kwargs": {"command": f"touch {marker}"}}))
        # The message names the culprit, what a folder may name, and the fix.
        with pytest.raises(ValueError, match=f"names model '{name}', which sciml does not rebuild.*LiquidRNN"
                                             ".*save the model again with sciml.dynamics.io.save"):
            load(folder)
    assert not marker.exists() and "evil_saved_model" not in sys.modules


def test_load_reads_folders_that_recorded_the_import_path_of_a_saveable_model(tmp_path):
    """Folders written before registry names (``class``: an import path) still load, through
    the same list of saveable models."""
    import json

    m = LiquidRNN("cfc", 2, 6, 2, seed=3)
    folder = save(m, tmp_path / "m")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({"class": "sciml.dynamics.liquid:LiquidRNN",
                                                    "kwargs": config["kwargs"]}))
    x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 5, 2)), jnp.float32)
    dt = jnp.linspace(0.1, 0.5, 5)
    np.testing.assert_array_equal(np.asarray(load(folder)(x, dt)), np.asarray(m(x, dt)))


def test_irregular_elapsed_times_equal_manual_stepping():
    m = LiquidRNN("cfc", 2, 6, seed=0, backbone_units=8)
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.normal(size=(2, 5, 2)), jnp.float32)
    dt = jnp.asarray(rng.uniform(0.05, 1.5, (2, 5)), jnp.float32)
    out = m(x, dt)
    h = jnp.zeros((2, 6))
    for k in range(5):
        h = m.cell(h, x[:, k], dt[:, k])
        np.testing.assert_allclose(np.asarray(out[:, k]), np.asarray(h), rtol=1e-5, atol=1e-6)


def test_bad_inputs_are_clear():
    with pytest.raises(ValueError, match="CfC mode"):
        CfCCell(2, 4, mode="fancy")
    with pytest.raises(ValueError, match="liquid cell"):
        LiquidRNN("gru", 2, 4)
    with pytest.raises(ValueError, match=r"\(batch, time, 2\)"):
        LiquidRNN("cfc", 2, 4)(jnp.ones((3, 2)))


def _scanned_step(model, x, dt, h0):
    """Reference for the sequence kernels: the cell's single step under ``lax.scan``."""
    cell = model.cell
    step, p = cell.step_fn(), cell.constrained()
    hs = jax.lax.scan(lambda h, inp: (step(p, h, *inp),) * 2, h0, (jnp.swapaxes(x, 0, 1), dt.T))[1]
    return model.proj(cell.readout(jnp.swapaxes(hs, 0, 1)))


@pytest.mark.parametrize(
    "cell, opts",
    [
        ("cfc", {"mode": "default", "backbone_units": 16}),
        ("cfc", {"mode": "no_gate", "backbone_units": 16, "backbone_layers": 2}),
        ("cfc", {"mode": "pure", "backbone_units": 16}),
        ("cfc", {"mode": "default", "wiring": "ncp", "output_size": 2}),
        ("ltc", {}),
        ("ltc", {"wiring": "ncp", "output_size": 2, "unfolds": 3}),
    ],
)
@pytest.mark.parametrize("units", [7, 70])
def test_sequence_kernels_match_autodiff_of_scanned_steps(cell, opts, units):
    """Values and every gradient (parameters, inputs, elapsed times, initial state)."""
    from flax import nnx

    if units == 70 and opts.get("wiring") == "ncp":
        pytest.skip("one large-unit case per cell is enough")
    model = LiquidRNN(cell, 3, units, 2, seed=3, **opts)
    rng = np.random.default_rng(4)
    x = jnp.asarray(rng.normal(size=(4, 6, 3)), jnp.float32)
    dt = jnp.asarray(rng.uniform(0.1, 1.5, (4, 6)), jnp.float32)
    h0 = jnp.asarray(0.3 * rng.normal(size=(4, units)), jnp.float32)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    weights = jnp.asarray(rng.normal(size=(4, 6, 2)), jnp.float32)

    def loss(kernel, params, x, dt, h0):
        m = nnx.merge(graphdef, params, rest)
        out = m(x, dt, h0) if kernel else _scanned_step(m, x, dt, h0)
        return jnp.sum(weights * jnp.tanh(out))

    args = (params, x, dt, h0)
    got = jax.value_and_grad(lambda *a: loss(True, *a), argnums=(0, 1, 2, 3))(*args)
    want = jax.value_and_grad(lambda *a: loss(False, *a), argnums=(0, 1, 2, 3))(*args)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5)
    for g, w in zip(jax.tree.leaves(got[1]), jax.tree.leaves(want[1])):
        scale = float(jnp.max(jnp.abs(w))) + 1e-6
        np.testing.assert_allclose(np.asarray(g) / scale, np.asarray(w) / scale, atol=2e-5)


def test_a_forecaster_rolls_out_at_the_right_speed_on_a_finer_grid():
    # Trained on u' = -u sampled every 0.1, rolled out every 0.05: the increments are rates
    # times the elapsed time, so the finer rollout still follows exp(-t) (an unscaled increment
    # per step would decay twice as fast).
    from sciml.dynamics.forecast import SequenceForecaster, fit_forecaster, forecaster_config

    coarse, fine = np.linspace(0, 2, 21), np.linspace(0, 2, 41)
    ys = np.exp(-coarse)[None, :, None]
    model = SequenceForecaster("cfc", 1, 8, mean=[0.5], std=[0.3], seed=0)
    fit_forecaster(model, coarse, ys, forecaster_config(300, 1e-2))
    assert float(model.step[...]) == pytest.approx(0.1)
    on_coarse = np.asarray(model.rollout(jnp.asarray(coarse), jnp.ones((1, 1))))[0, :, 0]
    on_fine = np.asarray(model.rollout(jnp.asarray(fine), jnp.ones((1, 1))))[0, :, 0]
    assert np.max(np.abs(on_coarse - np.exp(-coarse))) < 0.05
    assert np.max(np.abs(on_fine - np.exp(-fine))) < 0.1
