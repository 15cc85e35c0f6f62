"""Liquid time-constant (LTC) and closed-form continuous-time (CfC) networks in JAX.

**LTC** (Hasani, Lechner, Amini, Rus & Grosu, AAAI 2021). Each neuron's potential ``v``
follows a leaky, conductance-based ODE whose time constant depends on the input:

.. math::

    C_m \\dot v_j = g_\\ell (v_\\ell - v_j)
        + \\sum_i w_{ij} \\sigma(s_{ij}(v_i - \\mu_{ij})) (E_{ij} - v_j)
        + \\sum_k \\hat w_{kj} \\sigma(\\hat s_{kj}(x_k - \\hat\\mu_{kj})) (\\hat E_{kj} - v_j),

i.e. :math:`\\dot v = -[1/\\tau + f(v, x)] v + f(v, x) A` with positive ``C_m, g_l, w``.
The *fused* solver of ncps takes ``unfolds`` semi-implicit Euler sub-steps of size
``dt / unfolds``: the synaptic activations are frozen at the current ``v`` and the linear
equation in the new ``v`` is solved exactly,

.. math::

    v \\leftarrow \\frac{C_m/\\Delta\\, v + g_\\ell v_\\ell + \\sum w\\sigma E}{C_m/\\Delta + g_\\ell + \\sum w\\sigma},

which is unconditionally stable. ``solver="tsit5"`` (any diffrax solver) integrates the ODE
instead; :func:`ltc_vector_field` is the right-hand side.

**CfC** (Hasani et al., Nat. Mach. Intell. 2022): a closed-form approximation of the LTC
solution, with a backbone ``z = \\mathrm{NN}([x, h])`` and heads ``f, g, h`` and elapsed time
``t``:

* ``default``: :math:`h' = \\sigma(-f t)\\odot g + (1 - \\sigma(-f t))\\odot h`, written as in
  ncps with ``\\sigma(t_a t + t_b)`` and ``tanh`` heads;
* ``no_gate``: :math:`h' = g + \\sigma(t_a t + t_b)\\odot h`;
* ``pure``: the direct solution :math:`h' = -A e^{-t(|w_\\tau| + |f|)} f + A`.

Both cells take the real elapsed time of each step, so irregularly sampled sequences are
handled natively. Parameters with a sign constraint are stored unconstrained and mapped by
``softplus`` (ncps' ``implicit_param_constraints=True``), so any optimiser keeps them valid.

The functional cores (:func:`ltc_step`, :func:`cfc_step`) take a dict of arrays; the
:class:`flax.nnx.Module` wrappers own the parameters, and :class:`LiquidRNN` runs a cell over
a sequence with the whole-sequence kernels of :mod:`sciml.dynamics.liquid_kernels` (same
values, hand-written reverse passes).
"""

from __future__ import annotations

import json
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from sciml.dynamics.liquid_kernels import cfc_sequence, ltc_sequence
from sciml.dynamics.wiring import Wiring, auto_ncp, fully_connected

__all__ = [
    "ltc_step",
    "ltc_vector_field",
    "cfc_step",
    "LTCCell",
    "CfCCell",
    "LiquidRNN",
    "CFC_MODES",
    "lecun_tanh",
]

CFC_MODES = ("default", "no_gate", "pure")


def lecun_tanh(x):
    """``1.7159 tanh(2x/3)`` (LeCun et al. 1998), the CfC backbone activation in ncps."""
    return 1.7159 * jnp.tanh(0.666 * x)


def _inv_softplus(y):
    return np.log(np.expm1(y))


# ----------------------------------------------------------------------------- LTC core
def _ltc_sensory(p, x):
    x = x * p["input_w"] + p["input_b"]
    act = p["sensory_w"] * jax.nn.sigmoid(p["sensory_sigma"] * (x[..., :, None] - p["sensory_mu"])) * p["sensory_mask"]
    return jnp.sum(act * p["sensory_erev"], -2), jnp.sum(act, -2)


def _ltc_synapses(p, v):
    act = p["w"] * jax.nn.sigmoid(p["sigma"] * (v[..., :, None] - p["mu"])) * p["mask"]
    return jnp.sum(act * p["erev"], -2), jnp.sum(act, -2)


def ltc_step(p: dict, v: jax.Array, x: jax.Array, dt: jax.Array, unfolds: int = 6, eps: float = 1e-8) -> jax.Array:
    """One fused semi-implicit LTC step over elapsed time ``dt`` (``unfolds`` sub-steps).

    Args:
        p: constrained parameters (:meth:`LTCCell.constrained`).
        v: ``(..., units)`` potentials; ``x``: ``(..., input_size)``; ``dt``: ``(...)``.
    """
    num_s, den_s = _ltc_sensory(p, x)
    cm_t = p["cm"] / (jnp.asarray(dt)[..., None] / unfolds)
    # sigmoid(s (v - mu)) = (1 + tanh(s v / 2 - s mu / 2)) / 2: one tanh per synapse, with the
    # halves folded into weights hoisted out of the unfolds (XLA's tanh is cheaper than its
    # logistic, and the constant half of every synapse is summed once).
    half_w = 0.5 * p["w"] * p["mask"]
    half_we = half_w * p["erev"]
    slope = 0.5 * p["sigma"]
    offset = slope * p["mu"]
    num0 = p["gleak"] * p["vleak"] + num_s + jnp.sum(half_we, -2)
    den0 = p["gleak"] + den_s + jnp.sum(half_w, -2) + eps
    for _ in range(unfolds):
        th = jnp.tanh(slope * v[..., :, None] - offset)
        num = cm_t * v + num0 + jnp.einsum("...ij,ij->...j", th, half_we)
        den = cm_t + den0 + jnp.einsum("...ij,ij->...j", th, half_w)
        v = num / den
    return v


def ltc_vector_field(p: dict, v: jax.Array, x: jax.Array) -> jax.Array:
    """``dv/dt`` of the LTC ODE for a constant input ``x`` over the step."""
    num_s, den_s = _ltc_sensory(p, x)
    num_w, den_w = _ltc_synapses(p, v)
    return (p["gleak"] * (p["vleak"] - v) + num_w - den_w * v + num_s - den_s * v) / p["cm"]


# ----------------------------------------------------------------------------- CfC core
def cfc_step(p: dict, h: jax.Array, x: jax.Array, dt: jax.Array, mode: str = "default",
             activations: Sequence[Callable] | None = None) -> jax.Array:
    """One CfC update over elapsed time ``dt`` (see module docstring for the modes).

    ``activations``: one callable per backbone layer (default :func:`lecun_tanh` in each).
    """
    z = jnp.concatenate([x, h], -1)
    activations = activations or [lecun_tanh] * len(p["backbone"])
    for (W, b), act in zip(p["backbone"], activations):
        z = act(z @ W + b)
    t = jnp.asarray(dt)[..., None]
    if mode == "pure":
        f = z @ (p["ff1_w"] * p["ff1_mask"]) + p["ff1_b"]
        return -p["A"] * jnp.exp(-t * (jnp.abs(p["w_tau"]) + jnp.abs(f))) * f + p["A"]
    ff1 = jnp.tanh(z @ (p["ff1_w"] * p["ff1_mask"]) + p["ff1_b"])
    ff2 = jnp.tanh(z @ (p["ff2_w"] * p["ff1_mask"]) + p["ff2_b"])
    ta = z @ (p["ta_w"] * p["ff1_mask"]) + p["ta_b"]
    tb = z @ (p["tb_w"] * p["ff1_mask"]) + p["tb_b"]
    gate = jax.nn.sigmoid(ta * t + tb)
    if mode == "no_gate":
        return ff1 + gate * ff2
    return ff1 * (1.0 - gate) + gate * ff2


# ----------------------------------------------------------------------------- modules
def _wiring(kind: str | Wiring, input_size: int, units: int, output_size: int | None, seed: int, sparsity: float) -> Wiring:
    if isinstance(kind, Wiring):
        if kind.input_size != input_size:
            raise ValueError(f"wiring has input_size {kind.input_size}, the cell {input_size}")
        return kind
    if kind in ("full", "fully_connected"):
        return fully_connected(input_size, units, output_size, seed=seed)
    if kind in ("ncp", "auto_ncp"):
        if output_size is None:
            raise ValueError("wiring='ncp' needs output_size (the number of motor neurons)")
        return auto_ncp(input_size, units, output_size, sparsity=sparsity, seed=seed)
    raise ValueError(f"unknown wiring {kind!r}; choose 'full', 'ncp' or pass a Wiring")


class LTCCell(nnx.Module):
    """LTC cell with ncps' parameterisation and initialisation.

    Args:
        input_size, units: sizes; ``output_size`` motor neurons (default ``units``).
        wiring: ``"full"`` (default), ``"ncp"`` (:func:`auto_ncp`) or a :class:`Wiring`.
        unfolds: fused solver sub-steps per step (6, as ncps).
        solver: ``"fused"`` (default) or a diffrax solver name (``tsit5``, ``dopri5``, ...).
    """

    def __init__(
        self,
        input_size: int,
        units: int,
        output_size: int | None = None,
        *,
        wiring: str | Wiring = "full",
        sparsity: float = 0.5,
        unfolds: int = 6,
        solver: str = "fused",
        seed: int = 0,
    ):
        if unfolds < 1:
            raise ValueError(f"unfolds must be >= 1, got {unfolds}")
        w = _wiring(wiring, input_size, units, output_size, seed, sparsity)
        self.input_size, self.units, self.output_size = input_size, units, w.output_size
        self.unfolds, self.solver = unfolds, solver
        rng = np.random.default_rng(seed)
        u = lambda lo, hi, shape: jnp.asarray(rng.uniform(lo, hi, shape), jnp.float32)
        n_in = input_size
        self.gleak = nnx.Param(jnp.asarray(_inv_softplus(rng.uniform(0.001, 1.0, units)), jnp.float32))
        self.vleak = nnx.Param(u(-0.2, 0.2, units))
        self.cm = nnx.Param(jnp.asarray(_inv_softplus(rng.uniform(0.4, 0.6, units)), jnp.float32))
        self.w = nnx.Param(jnp.asarray(_inv_softplus(rng.uniform(0.001, 1.0, (units, units))), jnp.float32))
        self.sigma = nnx.Param(u(3, 8, (units, units)))
        self.mu = nnx.Param(u(0.3, 0.8, (units, units)))
        self.erev = nnx.Param(jnp.asarray(w.adjacency, jnp.float32))
        self.sensory_w = nnx.Param(jnp.asarray(_inv_softplus(rng.uniform(0.001, 1.0, (n_in, units))), jnp.float32))
        self.sensory_sigma = nnx.Param(u(3, 8, (n_in, units)))
        self.sensory_mu = nnx.Param(u(0.3, 0.8, (n_in, units)))
        self.sensory_erev = nnx.Param(jnp.asarray(w.sensory, jnp.float32))
        self.input_w = nnx.Param(jnp.ones(n_in))
        self.input_b = nnx.Param(jnp.zeros(n_in))
        self.output_w = nnx.Param(jnp.ones(self.output_size))
        self.output_b = nnx.Param(jnp.zeros(self.output_size))
        self.mask = nnx.Variable(jnp.asarray(np.abs(w.adjacency), jnp.float32))
        self.sensory_mask = nnx.Variable(jnp.asarray(np.abs(w.sensory), jnp.float32))

    def constrained(self) -> dict:
        sp = jax.nn.softplus
        return {
            "gleak": sp(self.gleak[...]), "vleak": self.vleak[...], "cm": sp(self.cm[...]),
            "w": sp(self.w[...]), "sigma": self.sigma[...], "mu": self.mu[...], "erev": self.erev[...],
            "sensory_w": sp(self.sensory_w[...]), "sensory_sigma": self.sensory_sigma[...],
            "sensory_mu": self.sensory_mu[...], "sensory_erev": self.sensory_erev[...],
            "input_w": self.input_w[...], "input_b": self.input_b[...],
            "mask": self.mask[...], "sensory_mask": self.sensory_mask[...],
        }

    def step_fn(self):
        """Pure ``(params, v, x, dt) -> v'`` used inside scans."""
        if self.solver == "fused":
            return lambda p, v, x, dt: ltc_step(p, v, x, dt, self.unfolds)
        from sciml.dynamics.node import ODESolver, integrate

        solver = ODESolver(self.solver, rtol=1e-5, atol=1e-7, max_steps=1000)

        def step(p, v, x, dt):
            def one(v, x, dt):
                return integrate(lambda t, y: ltc_vector_field(p, y, x), v, jnp.stack([0.0, dt]), solver)[-1]

            flat = lambda a, k: a.reshape((-1,) + a.shape[a.ndim - k :])
            out = jax.vmap(one)(flat(v, 1), flat(x, 1), jnp.broadcast_to(dt, v.shape[:-1]).reshape(-1))
            return out.reshape(v.shape)

        return step

    def readout(self, v):
        return v[..., : self.output_size] * self.output_w[...] + self.output_b[...]

    def __call__(self, v, x, dt=1.0):
        return self.step_fn()(self.constrained(), v, x, jnp.asarray(dt, v.dtype))


class CfCCell(nnx.Module):
    """CfC cell with ncps' architecture (backbone of ``backbone_layers`` x ``backbone_units``).

    Args:
        mode: ``default``, ``no_gate`` or ``pure``.
        wiring: ``None`` (dense) or ``"ncp"`` / a :class:`Wiring`; a wired cell has no
            backbone and masks the head weights with the adjacency, and its outputs are the
            motor neurons.
        activation: the backbone's nonlinearity: ``None`` (:func:`lecun_tanh`, with the
            whole-sequence kernel's hand-written reverse pass), a callable (a function, or a
            module with parameters of its own such as :mod:`sciml.library.gates`' mixtures),
            or one callable per backbone layer. A cell with its own activation is scanned by
            :func:`jax.lax.scan` and cannot be saved by :func:`sciml.dynamics.io.save`.
    """

    def __init__(
        self,
        input_size: int,
        units: int,
        output_size: int | None = None,
        *,
        mode: str = "default",
        backbone_units: int = 128,
        backbone_layers: int = 1,
        wiring: str | Wiring | None = None,
        sparsity: float = 0.5,
        activation: Callable | Sequence[Callable] | None = None,
        seed: int = 0,
    ):
        if mode not in CFC_MODES:
            raise ValueError(f"unknown CfC mode {mode!r}; choose one of {CFC_MODES}")
        self.input_size, self.units, self.mode = input_size, units, mode
        rngs = nnx.Rngs(seed)
        if wiring is not None:
            w = _wiring(wiring, input_size, units, output_size, seed, sparsity)
            mask = np.concatenate([np.abs(w.sensory), np.abs(w.adjacency)], 0)
            backbone_layers = 0
            self.output_size = w.output_size
        else:
            mask = None
            self.output_size = output_size or units
        sizes = [input_size + units] + [backbone_units] * backbone_layers
        if activation is not None and not backbone_layers:
            raise ValueError("a CfC cell's activation acts in its backbone: a wired cell (or backbone_layers=0) "
                             "has none; use backbone_layers >= 1 without wiring")
        if isinstance(activation, (list, tuple)):
            if len(activation) != backbone_layers:
                raise ValueError(f"activation as a sequence needs one callable per backbone layer "
                                 f"({backbone_layers}), got {len(activation)}")
            activation = nnx.List(activation)
        self.activation = activation
        self.backbone = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])])
        d = sizes[-1]
        heads = ("ff1", "ff2", "ta", "tb") if mode != "pure" else ("ff1",)
        self.heads = nnx.Dict({k: nnx.Linear(d, units, rngs=rngs) for k in heads})
        self.head_mask = nnx.Variable(jnp.ones((d, units)) if mask is None else jnp.asarray(mask, jnp.float32))
        if mode == "pure":
            self.w_tau = nnx.Param(jnp.zeros(units))
            self.A = nnx.Param(jnp.ones(units))

    def constrained(self) -> dict:
        # A dense cell's mask is all ones: a constant 1 lets XLA drop the multiplications.
        mask = self.head_mask[...] if len(self.backbone) == 0 else 1.0
        p: dict[str, Any] = {"backbone": [(l.kernel[...], l.bias[...]) for l in self.backbone], "ff1_mask": mask}
        for k, lin in self.heads.items():
            p[f"{k}_w"], p[f"{k}_b"] = lin.kernel[...], lin.bias[...]
        if self.mode == "pure":
            p["w_tau"], p["A"] = self.w_tau[...], self.A[...]
        return p

    def activations(self) -> list[Callable] | None:
        """The backbone's nonlinearity per layer (``None``: :func:`lecun_tanh` throughout)."""
        if self.activation is None:
            return None
        if isinstance(self.activation, nnx.List):
            return list(self.activation)
        return [self.activation] * len(self.backbone)

    def step_fn(self):
        acts = self.activations()
        return lambda p, h, x, dt: cfc_step(p, h, x, dt, self.mode, acts)

    def readout(self, h):
        return h[..., : self.output_size]

    def __call__(self, h, x, dt=1.0):
        return cfc_step(self.constrained(), h, x, jnp.asarray(dt, h.dtype), self.mode, self.activations())


class LiquidRNN(nnx.Module):
    """A liquid cell scanned over a sequence: ``(B, T, input_size) -> (B, T, out)``.

    Args:
        cell: ``"ltc"`` or ``"cfc"``.
        input_size, units: sizes.
        out_features: optional linear readout from the cell outputs (motor neurons).
        output_size: motor neurons of the wiring (default ``units``).
        **cell_options: passed to :class:`LTCCell` / :class:`CfCCell` (``wiring``, ``mode``,
            ``unfolds``, ``solver``, ``backbone_units``, ...).

    Call with ``elapsed`` of shape ``(B, T)`` or ``(T,)`` (real time between consecutive
    inputs; default 1.0) for irregularly sampled sequences.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        units: int,
        out_features: int | None = None,
        *,
        output_size: int | None = None,
        seed: int = 0,
        **cell_options: Any,
    ):
        # A cell given an activation module has no JSON record (io.save refuses it by that).
        self.config_json = None if cell_options.get("activation") is not None else json.dumps(
            {"cell": cell, "input_size": input_size, "units": units, "out_features": out_features,
             "output_size": output_size, "seed": seed, **cell_options}
        )
        if cell == "ltc":
            self.cell = LTCCell(input_size, units, output_size, seed=seed, **cell_options)
        elif cell == "cfc":
            self.cell = CfCCell(input_size, units, output_size, seed=seed, **cell_options)
        else:
            raise ValueError(f"unknown liquid cell {cell!r}; choose 'ltc' or 'cfc'")
        self.in_features = input_size
        self.out_features = out_features or self.cell.output_size
        self.proj = nnx.Linear(self.cell.output_size, out_features, rngs=nnx.Rngs(seed + 1)) if out_features else None

    def __call__(self, inputs: jax.Array, elapsed: jax.Array | None = None, h0: jax.Array | None = None, *, return_state: bool = False):
        inputs = jnp.asarray(inputs)
        if inputs.ndim != 3 or inputs.shape[-1] != self.in_features:
            raise ValueError(f"inputs must be (batch, time, {self.in_features}), got {inputs.shape}")
        B, T, _ = inputs.shape
        dt = jnp.ones((B, T), inputs.dtype) if elapsed is None else jnp.broadcast_to(jnp.asarray(elapsed, inputs.dtype), (B, T))
        h = jnp.zeros((B, self.cell.units), inputs.dtype) if h0 is None else h0
        p = self.cell.constrained()
        xs, dts = jnp.swapaxes(inputs, 0, 1), dt.T
        if isinstance(self.cell, CfCCell) and self.cell.activation is None:
            hs = cfc_sequence(p, h, xs, dts, self.cell.mode)
        elif isinstance(self.cell, LTCCell) and self.cell.solver == "fused":
            hs = ltc_sequence(p, h, xs, dts, self.cell.unfolds)
        else:  # a diffrax solver, or a CfC backbone with an activation of its own
            step = self.cell.step_fn()
            hs = jax.lax.scan(lambda h, inp: (step(p, h, *inp),) * 2, h, (xs, dts))[1]
        h_last = hs[-1]
        out = self.cell.readout(jnp.swapaxes(hs, 0, 1))
        if self.proj is not None:
            out = self.proj(out)
        return (out, h_last) if return_state else out
