"""Runs over several processes (one per host) on JAX's own runtime.

``jax.distributed`` joins the processes; every process then sees the devices of all of them
(``jax.devices()``) and its own (``jax.local_devices()``). Training stays one program: every
process runs the same code on the same data — the batches are drawn from the same seeded
generators — and the compiler splits each batch over the global device mesh and reduces the
gradients (:func:`sciml.training.engine.batch_sharding`). What can differ between processes is
what each one sees of the wall clock and of signals; the decisions taken from them (end a phase
on the time budget, shorten a chunk, stop on SIGTERM) are process 0's, broadcast by
:func:`agree`, so that no process waits in a collective the others skipped. Only process 0
writes checkpoints and outputs (:func:`is_primary`).

A run is launched as one process per host with the standard variables: on SLURM, Open MPI or
Kubernetes JAX reads them itself; elsewhere ``JAX_COORDINATOR_ADDRESS`` (``host:port`` of
process 0), ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID`` (see README, "Scaling out").
"""

from __future__ import annotations

import os

import jax
import numpy as np

__all__ = ["initialize", "is_primary", "agree", "multi_process"]

_ENV = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")


def initialize() -> None:
    """Join this process to a multi-process run (before anything else uses JAX's devices).

    Reads ``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID`` when set, and
    otherwise lets JAX detect the cluster (SLURM, Open MPI, Kubernetes).

    Raises:
        ValueError: the variables are incomplete or not integers, or no cluster was found.
    """
    given = {name: os.environ.get(name) for name in _ENV}
    kwargs = {}
    if any(given.values()):
        missing = [name for name, value in given.items() if not value]
        if missing:
            raise ValueError(f"--distributed: {', '.join(missing)} not set; a run outside a cluster manager "
                             f"needs all of {', '.join(_ENV)} (README, 'Scaling out')")
        try:
            kwargs = {"coordinator_address": given["JAX_COORDINATOR_ADDRESS"],
                      "num_processes": int(given["JAX_NUM_PROCESSES"]),
                      "process_id": int(given["JAX_PROCESS_ID"])}
        except ValueError:
            raise ValueError(f"--distributed: JAX_NUM_PROCESSES and JAX_PROCESS_ID must be integers, got "
                             f"{given['JAX_NUM_PROCESSES']!r} and {given['JAX_PROCESS_ID']!r}") from None
    try:
        jax.distributed.initialize(**kwargs)
    except (ValueError, RuntimeError) as err:
        raise ValueError(f"--distributed: could not join the run ({err}); set {', '.join(_ENV)} or launch "
                         "under SLURM / Open MPI (README, 'Scaling out')") from None


def multi_process() -> bool:
    return jax.process_count() > 1


def is_primary() -> bool:
    """Does this process write the run's checkpoints and outputs (process 0)?"""
    return jax.process_index() == 0


def agree(value):
    """Process 0's ``value`` (a number or a bool) on every process; ``value`` itself in a
    one-process run. Every process must call it at the same point of the program."""
    if not multi_process():
        return value
    from jax.experimental import multihost_utils

    agreed = np.asarray(multihost_utils.broadcast_one_to_all(np.asarray(value, dtype=np.float32)))
    return bool(agreed) if isinstance(value, (bool, np.bool_)) else type(value)(agreed.item())
