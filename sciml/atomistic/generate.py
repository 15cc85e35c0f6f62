"""Reference data generated with real physics: xTB molecular dynamics and EMT crystals.

Every recipe is deterministic given its seed, so the files shipped under ``datasets/atomistic/``
can be regenerated (and larger variants produced) on any machine:

* :func:`molecular_md` -- Langevin dynamics of a small molecule at ~500 K with GFN2-xTB
  (``tblite``) forces, sampled every ``stride`` steps of 0.5 fs, in the spirit of MD17/rMD17
  [Chmiela et al. 2017; Christensen & von Lilienfeld 2020]. ASE's Langevin thermostat is used
  with ``fixcm=False``: with the default ``fixcm=True`` the centre-of-mass constraint removes
  three degrees of freedom from the friction/noise balance of a 9-atom molecule and it
  equilibrates at ~670 K instead of the requested 500 K.
* :func:`fcc_alloys` -- random substitutional fcc alloys of Cu/Ag/Au/Ni/Pd/Pt under random
  strain and thermal displacement, with ASE's EMT potential [Jacobsen et al. 1996]; energies,
  forces, stresses and the formation energy per atom relative to the pure elements.
* :func:`silicon_crystals` -- strained and rattled diamond Si cells with GFN1-xTB (periodic).
"""

from __future__ import annotations

import numpy as np

MOLECULES = ("ethanol", "malonaldehyde")

# Starting geometries (Angstrom). Ethanol comes from ASE's G2 set; malonaldehyde is the
# planar enol form, relaxed with xTB before the dynamics starts. (Aspirin needs a starting
# geometry file; pass any ase.Atoms to `molecular_md(atoms=...)`.)
_MALONALDEHYDE = (
    ["C", "C", "C", "O", "O", "H", "H", "H", "H"],
    [
        [0.000, 1.197, 0.000], [1.246, 0.468, 0.000], [-1.239, 0.414, 0.000],
        [2.330, 1.067, 0.000], [-1.296, -0.828, 0.000], [0.000, 2.281, 0.000],
        [1.211, -0.630, 0.000], [-2.190, 0.961, 0.000], [-0.368, -1.110, 0.000],
    ],
)


def initial_molecule(name: str):
    """The starting geometry of one of :data:`MOLECULES` as an :class:`ase.Atoms`."""
    from ase import Atoms
    from ase.build import molecule

    if name == "ethanol":
        return molecule("CH3CH2OH")
    if name == "malonaldehyde":
        return Atoms(_MALONALDEHYDE[0], positions=_MALONALDEHYDE[1])
    raise ValueError(f"unknown molecule {name!r}; choose one of {MOLECULES}")


def _xtb(method: str):
    from tblite.ase import TBLite

    return TBLite(method=method, verbosity=0)


def molecular_md(
    name: str = "ethanol",
    *,
    atoms=None,
    n_frames: int = 1300,
    stride: int = 10,
    timestep_fs: float = 0.5,
    temperature_K: float = 500.0,
    friction_per_fs: float = 0.01,
    equilibration_steps: int = 2000,
    method: str = "GFN2-xTB",
    seed: int = 0,
):
    """Langevin MD of one molecule with xTB; returns ``(frames, info)``.

    ``frames`` is a list of :class:`ase.Atoms` carrying a single-point calculator with the
    energy (eV) and forces (eV/A) of each snapshot, in time order. ``info`` records the recipe
    and the measured mean kinetic temperature (it should be close to ``temperature_K``).
    """
    from ase import Atoms, units
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary, ZeroRotation
    from ase.optimize import BFGS

    atoms = initial_molecule(name) if atoms is None else atoms.copy()
    atoms.calc = _xtb(method)
    BFGS(atoms, logfile=None).run(fmax=0.05, steps=200)
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature_K, rng=rng)
    Stationary(atoms)
    ZeroRotation(atoms)
    dyn = Langevin(
        atoms, timestep_fs * units.fs, temperature_K=temperature_K,
        friction=friction_per_fs / units.fs, fixcm=False, rng=rng,
    )
    dyn.run(equilibration_steps)
    frames, temps = [], []
    for _ in range(n_frames):
        dyn.run(stride)
        # Positions only: the momenta are not part of the dataset.
        snap = Atoms(atoms.numbers, positions=atoms.positions)
        snap.calc = SinglePointCalculator(
            snap, energy=atoms.get_potential_energy(), forces=atoms.get_forces()
        )
        frames.append(snap)
        temps.append(atoms.get_temperature())
    info = dict(
        molecule=name, method=method, temperature_K=temperature_K,
        mean_temperature_K=float(np.mean(temps)), timestep_fs=timestep_fs, stride=stride,
        friction_per_fs=friction_per_fs, equilibration_steps=equilibration_steps, seed=seed,
        n_frames=n_frames,
    )
    return frames, info


def md17_split(n_frames: int, n_train: int = 1000, n_val: int = 100, n_test: int = 200,
               seed: int = 0) -> dict[str, np.ndarray]:
    """rMD17-style split of a trajectory: the test block is the *last* ``n_test`` frames in
    time (so test structures are never interleaved with training ones); training and
    validation indices are drawn at random from everything before it."""
    if n_train + n_val + n_test > n_frames:
        raise ValueError(
            f"split needs {n_train}+{n_val}+{n_test} frames but the trajectory has {n_frames}"
        )
    test = np.arange(n_frames - n_test, n_frames)
    perm = np.random.default_rng(seed).permutation(n_frames - n_test)
    return {"train": np.sort(perm[:n_train]), "val": np.sort(perm[n_train:n_train + n_val]),
            "test": test}


ALLOY_ELEMENTS = ("Cu", "Ag", "Au", "Ni", "Pd", "Pt")


def fcc_alloys(
    n_structures: int = 300,
    *,
    elements: tuple[str, ...] = ALLOY_ELEMENTS,
    max_elements: int = 3,
    supercell: tuple[int, int, int] = (2, 2, 2),
    strain: float = 0.03,
    rattle: float = 0.05,
    seed: int = 0,
):
    """Random fcc alloys with EMT: energy, forces, stress and formation energy per atom.

    Each structure picks 1..``max_elements`` species, a random composition on a
    conventional fcc ``supercell`` (32 atoms for 2x2x2), the composition-weighted lattice
    constant (Vegard's law), a random symmetric strain of size ``strain`` and Gaussian
    displacements of ``rattle`` A. The formation energy per atom is
    ``(E - sum_i n_i mu_i) / N`` with ``mu_i`` the EMT energy per atom of the relaxed pure
    fcc element.
    """
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator

    # Vegard lattice constants and reference chemical potentials from EMT itself.
    a0 = {"Cu": 3.61, "Ag": 4.09, "Au": 4.08, "Ni": 3.52, "Pd": 3.89, "Pt": 3.92}
    mu = {}
    for el in elements:
        best = None
        for a in np.linspace(0.95, 1.05, 41) * a0[el]:
            at = bulk(el, "fcc", a=a)
            at.calc = EMT()
            e = at.get_potential_energy() / len(at)
            if best is None or e < best[0]:
                best = (e, a)
        mu[el], a0[el] = best
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n_structures):
        k = int(rng.integers(1, max_elements + 1))
        chosen = list(rng.choice(elements, size=k, replace=False))
        atoms = bulk("Cu", "fcc", a=1.0, cubic=True).repeat(supercell)
        n = len(atoms)
        symbols = list(rng.choice(chosen, size=n))
        atoms.set_chemical_symbols(symbols)
        a = float(np.mean([a0[s] for s in symbols]))
        eps = rng.uniform(-strain, strain, size=(3, 3))
        eps = 0.5 * (eps + eps.T)
        atoms.set_cell(atoms.cell * a @ (np.eye(3) + eps), scale_atoms=True)
        atoms.positions += rng.normal(scale=rattle, size=(n, 3))
        atoms.calc = EMT()
        e = atoms.get_potential_energy()
        ef = (e - sum(mu[s] for s in symbols)) / n
        snap = atoms.copy()
        snap.calc = SinglePointCalculator(
            snap, energy=e, forces=atoms.get_forces(), stress=atoms.get_stress()
        )
        snap.info["formation_energy_per_atom"] = float(ef)
        frames.append(snap)
    return frames, {"elements": list(elements), "mu_eV": mu, "lattice_A": a0, "seed": seed,
                    "supercell": list(supercell), "strain": strain, "rattle": rattle}


def silicon_crystals(n_structures: int = 60, *, strain: float = 0.03, rattle: float = 0.08,
                     seed: int = 0):
    """Strained, rattled 8-atom diamond Si cells with periodic GFN1-xTB energies, forces and
    stresses."""
    from ase.build import bulk
    from ase.calculators.singlepoint import SinglePointCalculator

    rng = np.random.default_rng(seed)
    frames = []
    calc = _xtb("GFN1-xTB")
    for _ in range(n_structures):
        atoms = bulk("Si", "diamond", a=5.43, cubic=True)
        eps = rng.uniform(-strain, strain, size=(3, 3))
        eps = 0.5 * (eps + eps.T)
        atoms.set_cell(atoms.cell @ (np.eye(3) + eps), scale_atoms=True)
        atoms.positions += rng.normal(scale=rattle, size=(len(atoms), 3))
        atoms.calc = calc
        snap = atoms.copy()
        snap.calc = SinglePointCalculator(
            snap, energy=atoms.get_potential_energy(), forces=atoms.get_forces(),
            stress=atoms.get_stress(),
        )
        frames.append(snap)
    return frames, {"method": "GFN1-xTB", "seed": seed, "strain": strain, "rattle": rattle}


def dataset_frames(name: str):
    """Frames and metadata of a named dataset: a molecule's MD (with its rMD17-style split),
    ``"alloys"`` or ``"silicon"``."""
    if name in MOLECULES:
        frames, info = molecular_md(name)
        info["split"] = {k: v.tolist() for k, v in md17_split(len(frames)).items()}
    elif name == "alloys":
        frames, info = fcc_alloys()
    elif name == "silicon":
        frames, info = silicon_crystals()
    else:
        raise ValueError(f"unknown dataset {name!r}; choose {MOLECULES + ('alloys', 'silicon')}")
    return frames, info
