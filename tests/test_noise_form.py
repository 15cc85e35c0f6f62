"""Noise proportional to the target: told from additive noise, and laws chosen in log|target|."""

import json

import numpy as np
import pytest
import sympy as sp

from sciml.symbolic.noise import noise_form


def _rate_table(relative=0.02, additive=None, n=120, seed=7):
    """k = 2e7 exp(-6000/T) over 300-600 K: four decades of k."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(300, 600, n)
    k = 2.0e7 * np.exp(-6000.0 / T)
    if additive is None:
        k = k * (1 + relative * rng.standard_normal(n))
    else:
        k = k + additive * rng.standard_normal(n)
    return T, k


def test_proportional_noise_is_told_from_additive_noise():
    T, k = _rate_table(relative=0.02)
    found = noise_form(T[:, None], k)
    assert found["form"] == "proportional", found
    assert found["log_evidence"]["proportional"] - found["log_evidence"]["additive"] > 100
    T, k = _rate_table(additive=0.01 * 2.0e7 * np.exp(-6000.0 / 450))
    k = np.abs(k)  # one sign, so both forms are compared
    found = noise_form(T[:, None], k)
    assert found["form"] == "additive", found
    assert found["log_evidence"]["additive"] > found["log_evidence"]["proportional"]


def test_an_input_sampled_over_decades_is_compared_on_its_log_scale():
    """Michaelis-Menten over substrate 0.01-100 (log-uniform), 2% proportional noise: on the
    linear scale one length scale cannot follow log(rate) near S = 0 and additive noise won by
    200 nats; on the log scale of S the proportional form wins."""
    rng = np.random.default_rng(36)
    S = np.exp(rng.uniform(np.log(0.01), np.log(100), 150))
    rate = 4.0 * S / (0.7 + S)
    assert noise_form(S[:, None], rate * (1 + 0.02 * rng.standard_normal(150)))["form"] == "proportional"
    assert noise_form(S[:, None], np.abs(rate + 0.02 * rng.standard_normal(150)))["form"] == "additive"


def test_a_target_of_both_signs_or_few_rows_keeps_additive_noise():
    x = np.linspace(0, 6, 100)
    found = noise_form(x[:, None], np.sin(x) * (1 + 0.02 * np.random.default_rng(0).standard_normal(100)))
    assert found["form"] == "additive" and "sign" in found["why"]
    found = noise_form(x[:20, None], np.exp(x[:20]))
    assert found["form"] == "additive" and "fewer than" in found["why"]


def test_proportional_noise_on_a_target_of_both_signs_is_refused():
    from sciml.symbolic import discover

    x = np.linspace(-1, 1, 60)
    with pytest.raises(ValueError, match="one sign"):
        discover({"x": x, "y": x**3}, target="y", backend="builtin", noise="proportional")
    with pytest.raises(ValueError, match="noise must be one of"):
        discover({"x": x, "y": x**3}, target="y", backend="builtin", noise="relative")


@pytest.mark.slow  # ~40 s: two searches and their simplification
def test_a_rate_law_with_a_relative_error_is_found_over_four_decades(tmp_path, capsys):
    """2% proportional noise on k = 2e7 exp(-6000/T): least squares on k is decided by the hottest
    rows and once chose a formula negative at the cold end; the error in log k finds the law,
    and the command and the report say how it was judged."""
    from sciml.discover_command import main
    from sciml.report.law_report import render_html
    from sciml.symbolic.law import load_law

    T, k = _rate_table(relative=0.02)
    np.savetxt(tmp_path / "rates.csv", np.column_stack([T, k]), delimiter=",", header="T,k", comments="")
    status = main([str(tmp_path / "rates.csv"), "--target", "k", "--backend", "builtin", "--time-budget", "5",
                   "--no-structure", "--out", str(tmp_path / "out"), "--no-report"])
    record = json.loads((tmp_path / "out" / "law.json").read_text())
    assert status == 0 and record["verdict"] == "law found", record["metrics"]
    assert record["record"]["noise_form"]["form"] == "proportional"
    law = load_law(tmp_path / "out" / "law.json")
    (t,) = law.symbols
    prefactor, theta = sp.Wild("a"), sp.Wild("b")
    match = law.expr.match(prefactor * sp.exp(theta / t))
    assert match and abs(float(match[theta]) / -6000 - 1) < 0.01, law.expr
    assert abs(float(match[prefactor]) / 2e7 - 1) < 0.1, law.expr
    assert law.metrics["formula"]["r2_test"] > 0.999
    assert "The noise is proportional to k (the rows are" in capsys.readouterr().out
    assert "judged by their error in log|k|" in render_html(law, figures=False)
    law.record["noise_form"] = {"form": "additive", "why": "given"}
    assert "log|k|" not in render_html(law, figures=False)


def test_a_noise_form_given_is_taken_as_given():
    from sciml.symbolic.discover import _noise_form

    T, k = _rate_table(relative=0.02)
    for form in ("additive", "proportional"):
        assert _noise_form(form, T[:, None], k, 0, 0.25)["form"] == form
    assert _noise_form("auto", T[:, None], k, 0, 0.25)["form"] == "proportional"


def test_the_noise_form_is_decided_on_the_training_rows_alone():
    """The held-out rows judge formulas in the space the noise form chose: they take no part in
    choosing it (the rows of the search's own split)."""
    from sciml.symbolic.discover import _noise_form, _split

    T, k = _rate_table(relative=0.02)
    found = _noise_form("auto", T[:, None], k, 3, 0.25)
    tr, te = _split(len(k), np.random.default_rng(3), 0.25)
    assert found["rows"] == len(tr) == len(k) - 30
    assert found == noise_form(T[tr, None], k[tr], seed=3)
