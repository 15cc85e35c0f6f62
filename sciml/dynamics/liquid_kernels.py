"""Whole-sequence kernels for the liquid cells, with hand-written reverse passes.

Reverse-mode autodiff of a scanned cell differentiates every step in isolation: it
accumulates the weight gradients with small matrix products (CfC) inside the reverse loop,
and either stores every unfold's ``(batch, units, units)`` synaptic activations (LTC) or,
checkpointed, recomputes the whole step and then differentiates it. The kernels here
compute the same values and exact gradients with :func:`jax.custom_vjp` over the whole
sequence:

* :func:`cfc_sequence` keeps the inputs of each linear layer and the head activations from
  the forward scan; its reverse scan only propagates cotangents through time (no
  transcendental is re-evaluated), and every weight gradient is formed afterwards as one
  ``(T*B, n)^T (T*B, m)`` matrix product.
* :func:`ltc_sequence` evaluates the state-independent sensory synapses for all steps at
  once, keeps only the ``(batch, units)`` potentials and denominators of each unfold, and
  its reverse pass recomputes one unfold's synaptic activations at a time while running
  the semi-implicit update backwards analytically.

On one CPU core (``benchmarks/liquid_speed.py``) this takes forward + backward of the
issue's setting from 13.8 to 12.5 ms (CfC) and from 157 to 110 ms (LTC).

They are what :class:`sciml.dynamics.liquid.LiquidRNN` runs; the single-step functions of
:mod:`sciml.dynamics.liquid` stay the readable reference and the tests hold the two equal.
Forward-mode differentiation (``jax.jvp``) is not defined for these kernels.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["cfc_sequence", "ltc_sequence"]

# ----------------------------------------------------------------------------------- CfC
def _lecun_tanh(x):
    return 1.7159 * jnp.tanh(0.666 * x)


def _lecun_tanh_grad_from_output(y):
    """d/dx of ``1.7159 tanh(0.666 x)`` written with its output ``y``."""
    return 1.7159 * 0.666 * (1.0 - (y / 1.7159) ** 2)


def _cfc_head(o, dt, extra, mode: str):
    """New state from the fused head pre-activations ``o`` (see :func:`cfc_step`).

    Returns the state and what :func:`_cfc_head_vjp` needs: for the gated modes the two
    ``tanh`` heads, the gate and ``t_a``, so the reverse pass evaluates no transcendental.
    """
    t = dt[..., None]
    if mode == "pure":
        w_tau, A = extra
        return -A * jnp.exp(-t * (jnp.abs(w_tau) + jnp.abs(o))) * o + A, o
    ff1, ff2, ta, tb = jnp.split(o, 4, axis=-1)
    th1, th2, gate = jnp.tanh(ff1), jnp.tanh(ff2), jax.nn.sigmoid(ta * t + tb)
    h = th1 + gate * th2 if mode == "no_gate" else th1 * (1.0 - gate) + gate * th2
    return h, jnp.concatenate([th1, th2, gate, ta], -1)


def _cfc_head_vjp(cache, dt, extra, dh, mode: str):
    """Cotangents of the head pre-activations, the elapsed time and ``extra``."""
    if mode == "pure":
        _, vjp = jax.vjp(lambda o, dt, ex: _cfc_head(o, dt, ex, mode)[0], cache, dt, extra)
        return vjp(dh)
    th1, th2, gate, ta = jnp.split(cache, 4, axis=-1)
    if mode == "no_gate":
        d_ff1, d_ff2, d_gate = dh * (1.0 - th1 * th1), dh * gate * (1.0 - th2 * th2), dh * th2
    else:
        d_ff1 = dh * (1.0 - gate) * (1.0 - th1 * th1)
        d_ff2, d_gate = dh * gate * (1.0 - th2 * th2), dh * (th2 - th1)
    d_pre_gate = d_gate * gate * (1.0 - gate)
    d_out = jnp.concatenate([d_ff1, d_ff2, d_pre_gate * dt[..., None], d_pre_gate], -1)
    return d_out, jnp.sum(d_pre_gate * ta, -1), ()


def _cfc_layer_inputs(layers, h, x):
    """Inputs of every linear layer for one step, and the head pre-activations."""
    acts = [jnp.concatenate([x, h], -1)]
    for W, b in layers[:-1]:
        acts.append(_lecun_tanh(acts[-1] @ W + b))
    W, b = layers[-1]
    return acts, acts[-1] @ W + b


@functools.partial(jax.custom_vjp, nondiff_argnums=(5,))
def _cfc_scan(layers, extra, h0, xs, dts, mode):
    def body(h, inp):
        x, dt = inp
        _, o = _cfc_layer_inputs(layers, h, x)
        h, _ = _cfc_head(o, dt, extra, mode)
        return h, h

    return lax.scan(body, h0, (xs, dts))[1]


def _cfc_scan_fwd(layers, extra, h0, xs, dts, mode):
    def body(h, inp):
        x, dt = inp
        acts, o = _cfc_layer_inputs(layers, h, x)
        h, cache = _cfc_head(o, dt, extra, mode)
        return h, (h, acts, cache)

    _, (hs, acts, caches) = lax.scan(body, h0, (xs, dts))
    return hs, (layers, extra, acts, caches, dts)


def _cfc_scan_bwd(mode, res, g):
    layers, extra, acts, caches, dts = res
    n_in = acts[0].shape[-1] - g.shape[-1]
    weights_t = [W.T for W, _ in layers]

    def body(carry, inp):
        dh, dextra = carry
        acts_t, cache, dt, g_t = inp
        d_out, ddt, dex = _cfc_head_vjp(cache, dt, extra, dh + g_t, mode)
        d_pre = [d_out]
        da = d_out @ weights_t[-1]
        for l in range(len(layers) - 2, -1, -1):
            dp = da * _lecun_tanh_grad_from_output(acts_t[l + 1])
            d_pre.append(dp)
            da = dp @ weights_t[l]
        dextra = jax.tree.map(jnp.add, dextra, dex)
        return (da[..., n_in:], dextra), (d_pre[::-1], da[..., :n_in], ddt)

    zero_extra = jax.tree.map(jnp.zeros_like, extra)
    (dh0, dextra), (d_pre, dxs, ddts) = lax.scan(body, (jnp.zeros_like(g[0]), zero_extra), (acts, caches, dts, g), reverse=True)
    # Every weight gradient as one product over all (time, batch) rows.
    flat = lambda a: a.reshape(-1, a.shape[-1])
    dlayers = tuple((flat(a).T @ flat(d), jnp.sum(flat(d), 0)) for a, d in zip(acts, d_pre))
    return dlayers, dextra, dh0, dxs, ddts


_cfc_scan.defvjp(_cfc_scan_fwd, _cfc_scan_bwd)


def cfc_sequence(p: dict, h0: jax.Array, xs: jax.Array, dts: jax.Array, mode: str = "default") -> jax.Array:
    """CfC states ``(T, B, units)`` over time-major inputs ``xs`` ``(T, B, in)``, ``dts`` ``(T, B)``.

    ``p`` is :meth:`CfCCell.constrained`; equal to scanning :func:`cfc_step`.
    """
    heads = ("ff1",) if mode == "pure" else ("ff1", "ff2", "ta", "tb")
    mask = p["ff1_mask"]
    W = jnp.concatenate([p[f"{k}_w"] * mask for k in heads], 1)
    b = jnp.concatenate([p[f"{k}_b"] for k in heads])
    layers = tuple(tuple(l) for l in p["backbone"]) + ((W, b),)
    extra = (p["w_tau"], p["A"]) if mode == "pure" else ()
    return _cfc_scan(layers, extra, h0, xs, dts, mode)


# ----------------------------------------------------------------------------------- LTC
def _synaptic_sums(v, slope, offset, hw, hwe):
    """``sum_i tanh(slope_ij v_i - offset_ij) * (hwe_ij, hw_ij)`` for every postsynaptic j."""
    th = jnp.tanh(slope * v[..., :, None] - offset)
    return jnp.einsum("bij,ij->bj", th, hwe), jnp.einsum("bij,ij->bj", th, hw)


def _ltc_unfolds(v, cmt, num0, den0, weights, unfolds):
    """The fused semi-implicit sub-steps; returns every potential and denominator."""
    vs, dens = [v], []
    for _ in range(unfolds):
        num, den = _synaptic_sums(v, *weights)
        den = cmt + den0 + den
        v = (cmt * v + num0 + num) / den
        vs.append(v)
        dens.append(den)
    return vs, dens


def _synapse_cotangents(vu, gn, gd, slope, offset, hw, hwe):
    """Reverse pass of one unfold's synaptic sums.

    Given the cotangents ``gn, gd`` of the numerator and denominator sums, returns the
    cotangent of the potentials and the batch-summed gradients of ``(slope, offset, hw, hwe)``.
    The activations are recomputed (one ``tanh`` per synapse) rather than stored: storing
    them would cost ``unfolds * batch * units^2`` floats per step.
    """
    th = jnp.tanh(slope * vu[..., :, None] - offset)
    gp = (gn[..., None, :] * hwe + gd[..., None, :] * hw) * (1.0 - th * th)
    g_weights = (jnp.einsum("bij,bi->ij", gp, vu), -jnp.sum(gp, 0), jnp.einsum("bij,bj->ij", th, gd), jnp.einsum("bij,bj->ij", th, gn))
    return jnp.einsum("bij,ij->bi", gp, slope), g_weights


@functools.partial(jax.custom_vjp, nondiff_argnums=(5,))
def _ltc_recurrence(v0, cmt, num0, den0, weights, unfolds):
    def body(v, inp):
        vs, _ = _ltc_unfolds(v, *inp, weights, unfolds)
        return vs[-1], vs[-1]

    return lax.scan(body, v0, (cmt, num0, den0))[1]


def _ltc_recurrence_fwd(v0, cmt, num0, den0, weights, unfolds):
    def body(v, inp):
        vs, dens = _ltc_unfolds(v, *inp, weights, unfolds)
        return vs[-1], (vs[-1], jnp.stack(vs[:-1]), jnp.stack(dens))

    _, (out, v_in, dens) = lax.scan(body, v0, (cmt, num0, den0))
    return out, (out, v_in, dens, cmt, weights)


def _ltc_recurrence_bwd(unfolds, res, g):
    out, v_in, dens, cmt, weights = res

    def body(carry, inp):
        gv, acc = carry
        vs, den_u, v_last, c, g_t = inp
        gv = gv + g_t
        g_cmt = g_num0 = g_den0 = 0.0
        for u in reversed(range(unfolds)):
            vu = vs[u]
            v_next = v_last if u == unfolds - 1 else vs[u + 1]
            gn = gv / den_u[u]
            gd = -gn * v_next
            g_cmt, g_num0, g_den0 = g_cmt + gn * vu + gd, g_num0 + gn, g_den0 + gd
            g_syn, g_weights = _synapse_cotangents(vu, gn, gd, *weights)
            gv = gn * c + g_syn
            acc = tuple(a + g for a, g in zip(acc, g_weights))
        return (gv, acc), (g_cmt, g_num0, g_den0)

    acc0 = tuple(jnp.zeros_like(weights[0]) for _ in range(4))
    (gv0, g_weights), (g_cmt, g_num0, g_den0) = lax.scan(
        body, (jnp.zeros_like(out[0]), acc0), (v_in, dens, out, cmt, g), reverse=True
    )
    return gv0, g_cmt, g_num0, g_den0, g_weights


_ltc_recurrence.defvjp(_ltc_recurrence_fwd, _ltc_recurrence_bwd)


def ltc_sequence(p: dict, v0: jax.Array, xs: jax.Array, dts: jax.Array, unfolds: int = 6, eps: float = 1e-8) -> jax.Array:
    """LTC potentials ``(T, B, units)`` with the fused solver over time-major ``xs``, ``dts``.

    ``p`` is :meth:`LTCCell.constrained`; equal to scanning :func:`ltc_step`.
    """
    # The sensory synapses do not depend on the state: evaluated for all steps at once.
    x = xs * p["input_w"] + p["input_b"]
    act = p["sensory_w"] * jax.nn.sigmoid(p["sensory_sigma"] * (x[..., :, None] - p["sensory_mu"])) * p["sensory_mask"]
    num_s, den_s = jnp.sum(act * p["sensory_erev"], -2), jnp.sum(act, -2)
    # sigmoid(s (v - mu)) = (1 + tanh(s v / 2 - s mu / 2)) / 2, as in ltc_step.
    hw = 0.5 * p["w"] * p["mask"]
    hwe = hw * p["erev"]
    slope = 0.5 * p["sigma"]
    weights = (slope, slope * p["mu"], hw, hwe)
    num0 = p["gleak"] * p["vleak"] + num_s + jnp.sum(hwe, -2)
    den0 = p["gleak"] + den_s + jnp.sum(hw, -2) + eps
    cmt = p["cm"] / (dts[..., None] / unfolds)
    return _ltc_recurrence(v0, cmt, num0, den0, weights, unfolds)
