r"""Molecular dynamics with a learned potential and the energy-conservation check.

In the microcanonical (NVE) ensemble the total energy :math:`H = K + E` is conserved by the
exact dynamics; velocity Verlet conserves a nearby shadow Hamiltonian, so with a
*conservative* force field (:math:`F = -\nabla E`, which the potentials here are by
construction) :math:`H` fluctuates but does not drift. The drift reported is the slope of a
least-squares line through :math:`H(t)`, in meV per atom per picosecond.
"""

from __future__ import annotations

import time

import numpy as np


def run_nve(atoms, calculator, *, duration_ps: float = 10.0, timestep_fs: float = 0.5,
            temperature_K: float = 500.0, sample_every: int = 20, seed: int = 0) -> dict:
    """Velocity-Verlet NVE run from Maxwell--Boltzmann velocities at ``temperature_K``.

    Returns times (ps), total/potential energies (eV), the drift (meV/atom/ps), the maximal
    excursion of the total energy (meV/atom), the mean temperature and the wall time.
    """
    from ase import units
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary, ZeroRotation
    from ase.md.verlet import VelocityVerlet

    atoms = atoms.copy()
    atoms.calc = calculator
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K,
                                 rng=np.random.default_rng(seed))
    Stationary(atoms)
    if not atoms.pbc.any():
        ZeroRotation(atoms)
    dyn = VelocityVerlet(atoms, timestep_fs * units.fs)
    n_steps = round(duration_ps * 1000 / timestep_fs)
    t, etot, epot, temp = [], [], [], []

    def record():
        ep = atoms.get_potential_energy()
        ek = atoms.get_kinetic_energy()
        t.append(dyn.nsteps * timestep_fs / 1000)
        etot.append(ep + ek)
        epot.append(ep)
        temp.append(atoms.get_temperature())

    dyn.attach(record, interval=sample_every)
    t0 = time.perf_counter()
    dyn.run(n_steps)
    wall = time.perf_counter() - t0
    t, etot = np.array(t), np.array(etot)
    n = len(atoms)
    slope = np.polyfit(t, etot, 1)[0] if len(t) > 1 else 0.0
    return {
        "time_ps": t.tolist(), "total_energy_eV": etot.tolist(), "potential_energy_eV": epot,
        "drift_meV_per_atom_per_ps": 1e3 * float(slope) / n,
        "max_excursion_meV_per_atom": 1e3 * float(np.max(np.abs(etot - etot[0]))) / n,
        "mean_temperature_K": float(np.mean(temp)), "n_steps": n_steps,
        "timestep_fs": timestep_fs, "wall_s": wall, "finite": bool(np.isfinite(etot).all()),
    }
