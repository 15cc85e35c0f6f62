"""Modes of one input: ``y = c + sum_k exp(a_k t) (b_k cos(w_k t) + d_k sin(w_k t))``.

The response of a linear system — a damped spring, an RLC circuit, a decay chain, heat in a
rod at one point — is a sum of exponentially damped (or growing) oscillations, the family of
Prony's method (1795). Its members are products and sums of three primitives with shared
rates, which additive and dictionary searches do not compose and genetic searches find only
by luck. :func:`mode_candidates` fits the family directly for a law of one input, with one
and two modes (and pure exponentials, ``w = 0``), by variable projection (Golub & Pereyra
1973): for given rates and frequencies the amplitudes are a linear least-squares problem,
so only ``(a_k, w_k)`` are optimised (``scipy.optimize.least_squares``), started from the
highest peaks of the data's Lomb–Scargle periodogram (uneven samples). Each fit becomes a
candidate formula; the caller refits, rounds and judges it like any other.
"""

from __future__ import annotations

import itertools

import numpy as np
import sympy as sp
from scipy.optimize import least_squares
from scipy.signal import lombscargle

__all__ = ["mode_candidates"]

MAX_MODES = 2  # a law of more modes than this is a spectrum, not a formula
_PEAKS = 3  # periodogram peaks tried as starting frequencies


def _design(t, rates, freqs, offset: bool) -> np.ndarray:
    columns = [np.ones_like(t)] if offset else []
    for a, w in zip(rates, freqs):
        envelope = np.exp(np.clip(a * t, -700.0, 700.0))
        columns += [envelope * np.cos(w * t), envelope * np.sin(w * t)] if w else [envelope]
    return np.stack(columns, axis=1)


def _split(theta, n_modes, oscillating):
    """``(rates, angular frequencies)`` of ``theta``; a mode that does not oscillate has 0."""
    return theta[:n_modes], np.where(oscillating, theta[n_modes:], 0.0)


def _residual(theta, t, y, n_modes, oscillating, offset):
    A = _design(t, *_split(theta, n_modes, oscillating), offset)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    return A @ coef - y


def _start_frequencies(t, y, n: int) -> list[float]:
    """The ``n`` highest peaks of the Lomb–Scargle periodogram of ``y - mean`` (angular)."""
    span = float(t.max() - t.min())
    if span <= 0:
        return []
    w = np.linspace(np.pi / span, np.pi * len(t) / (2 * span), 2000)
    power = lombscargle(t, y - y.mean(), w)
    peaks = [i for i in range(1, len(w) - 1) if power[i] >= power[i - 1] and power[i] >= power[i + 1]]
    return [float(w[i]) for i in sorted(peaks, key=lambda i: -power[i])[:n]]


def _expression(t_symbol, theta, t, y, n_modes, oscillating, offset) -> sp.Expr:
    rates, freqs = _split(theta, n_modes, oscillating)
    coef, *_ = np.linalg.lstsq(_design(t, rates, freqs, offset), y, rcond=None)
    terms, k = [], 0
    if offset:
        terms.append(sp.Float(coef[0]))
        k = 1
    for a, w in zip(rates, freqs):
        envelope = sp.exp(sp.Float(a) * t_symbol)
        if w:
            terms.append(envelope * (sp.Float(coef[k]) * sp.cos(sp.Float(w) * t_symbol)
                                     + sp.Float(coef[k + 1]) * sp.sin(sp.Float(w) * t_symbol)))
            k += 2
        else:
            terms.append(sp.Float(coef[k]) * envelope)
            k += 1
    return sp.Add(*terms)


def mode_candidates(X: np.ndarray, y: np.ndarray, symbols) -> list[tuple[str, sp.Expr]]:
    """Laws of one or two modes of the one input (module docstring), with and without a
    constant offset; none for more inputs."""
    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    if X.ndim != 2 or X.shape[1] != 1 or len(y) < 12 or not np.all(np.isfinite(y)):
        return []
    t = X[:, 0]
    span = float(t.max() - t.min())
    if span <= 0 or not np.all(np.isfinite(t)):
        return []
    starts = _start_frequencies(t, y, _PEAKS)
    # Which modes oscillate: (T,), (F,), (T, T), (T, F), (F, F) for two modes at most.
    shapes = [(n, flags) for n in range(1, MAX_MODES + 1)
              for flags in itertools.combinations_with_replacement((True, False), n)]
    out = []
    for n_modes, oscillating in shapes:
        osc = np.array(oscillating)
        n_osc = int(osc.sum())
        frequency_starts = [()] if not n_osc else (
            [(w,) for w in starts] if n_osc == 1 else [(w1, w2) for i, w1 in enumerate(starts) for w2 in starts[i + 1:]])
        for offset in (False, True):
            best = None
            for ws in frequency_starts:
                for decay in (-1.0 / span, 0.0):
                    theta0 = np.zeros(2 * n_modes)
                    theta0[:n_modes] = decay * (1 + np.arange(n_modes))  # distinct rates for pure exponentials
                    theta0[n_modes:][osc] = ws
                    try:
                        with np.errstate(over="ignore", invalid="ignore"):  # a diverging trial rate
                            fit = least_squares(_residual, theta0, args=(t, y, n_modes, osc, offset), max_nfev=200)
                    except (ValueError, np.linalg.LinAlgError):
                        continue
                    if np.all(np.isfinite(fit.x)) and (best is None or fit.cost < best.cost):
                        best = fit
            if best is not None:
                label = f"modes:{n_modes}{'+offset' if offset else ''}"
                out.append((label, _expression(symbols[0], best.x, t, y, n_modes, osc, offset)))
    return out
