"""Wirings of liquid networks: which neuron talks to which, and with which polarity.

A wiring is a pair of signed adjacency matrices: ``adjacency[i, j]`` in ``{-1, 0, +1}`` for
the synapse from neuron ``i`` to neuron ``j``, and ``sensory[k, j]`` from input ``k`` to neuron
``j``. The sign initialises the synapse's reversal potential (excitatory ``+1``, inhibitory
``-1``); zero means no synapse. The first ``output_size`` neurons are the motor (output)
neurons, as in ncps.

* :func:`fully_connected` — every synapse present (the ncps default for an integer unit count);
* :func:`auto_ncp` — Neural Circuit Policy (Lechner et al., Nat. Mach. Intell. 2020):
  sensory -> inter -> command -> motor layers, sparse, with recurrent command synapses;
  sized from ``units``, ``output_size`` and a sparsity level like ncps' ``AutoNCP``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["Wiring", "fully_connected", "auto_ncp"]


@dataclasses.dataclass(frozen=True, eq=False)
class Wiring:
    """Signed adjacency of a liquid network (see module docstring)."""

    adjacency: np.ndarray  # (units, units)
    sensory: np.ndarray  # (input_size, units)
    output_size: int
    kind: str = "custom"
    spec: tuple = ()

    @property
    def units(self) -> int:
        return self.adjacency.shape[0]

    @property
    def input_size(self) -> int:
        return self.sensory.shape[0]

    def n_synapses(self) -> int:
        return int(np.abs(self.adjacency).sum() + np.abs(self.sensory).sum())


def fully_connected(input_size: int, units: int, output_size: int | None = None, *, seed: int = 0) -> Wiring:
    """All-to-all wiring with random polarities (2/3 excitatory, as ncps)."""
    _check(input_size, units, output_size or units)
    rng = np.random.default_rng(seed)
    adj = rng.choice([-1.0, 1.0, 1.0], size=(units, units))
    sens = rng.choice([-1.0, 1.0, 1.0], size=(input_size, units))
    return Wiring(adj, sens, output_size or units, "fully_connected", (input_size, units, output_size or units, seed))


def auto_ncp(input_size: int, units: int, output_size: int, *, sparsity: float = 0.5, seed: int = 22222) -> Wiring:
    """Neural Circuit Policy wiring sized like ncps' ``AutoNCP(units, output_size, sparsity)``.

    Neurons ``[0, output_size)`` are motor, then command (40% of the rest), then inter.
    """
    _check(input_size, units, output_size)
    if not 0.0 < sparsity < 1.0:
        raise ValueError(f"sparsity must lie in (0, 1), got {sparsity}")
    if units - output_size < 2:
        raise ValueError(f"auto_ncp needs units >= output_size + 2 (got units={units}, output_size={output_size})")
    density = 1.0 - sparsity
    rest = units - output_size
    n_cmd = max(int(0.4 * rest), 1)
    n_inter = rest - n_cmd
    motor = np.arange(output_size)
    command = np.arange(output_size, output_size + n_cmd)
    inter = np.arange(output_size + n_cmd, units)
    rng = np.random.default_rng(seed)
    adj = np.zeros((units, units))
    sens = np.zeros((input_size, units))
    pol = lambda: rng.choice([-1.0, 1.0])

    sensory_fanout = max(int(n_inter * density), 1)
    for s in range(input_size):  # sensory -> inter
        for j in rng.choice(inter, sensory_fanout, replace=False):
            sens[s, j] = pol()
    for j in inter:  # every inter neuron hears at least one sensory neuron
        if not sens[:, j].any():
            sens[rng.integers(input_size), j] = pol()
    inter_fanout = max(int(n_cmd * density), 1)
    for i in inter:  # inter -> command
        for j in rng.choice(command, inter_fanout, replace=False):
            adj[i, j] = pol()
    for j in command:
        if not adj[inter, j].any():
            adj[rng.choice(inter), j] = pol()
    for _ in range(max(int(n_cmd * density * 2), 1)):  # recurrent command synapses
        adj[rng.choice(command), rng.choice(command)] = pol()
    motor_fanin = max(int(n_cmd * density), 1)
    for j in motor:  # command -> motor
        for i in rng.choice(command, motor_fanin, replace=False):
            adj[i, j] = pol()
    for i in command:
        if not adj[i, motor].any():
            adj[i, rng.choice(motor)] = pol()
    return Wiring(adj, sens, output_size, "auto_ncp", (input_size, units, output_size, sparsity, seed))


def _check(input_size, units, output_size):
    if min(input_size, units, output_size) < 1:
        raise ValueError(f"input_size, units and output_size must be >= 1, got {input_size}, {units}, {output_size}")
    if output_size > units:
        raise ValueError(f"output_size={output_size} exceeds units={units}; motor neurons are a subset of the units")
