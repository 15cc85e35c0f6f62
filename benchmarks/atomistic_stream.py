"""One training epoch over a structure set larger than one wants in memory, read from disk.

Generates ``--n`` Cu/Ni/Al alloy nanoclusters of 4-8 atoms (fcc fragments, strained and
rattled; or with ``--periodic`` small periodic alloy cells) labelled by ASE's EMT calculator
into an HDF5 store (:mod:`sciml.atomistic.store`, written
chunk by chunk), then trains a small NequIP-style potential for one epoch over it through
``sciml.atomistic.fit`` with a :class:`~sciml.atomistic.graphs.GraphBatcher` that builds each
batch's graphs from the file when it is drawn. Reports the peak resident memory of the process
(``ru_maxrss``) after each stage, the wall time of each, the load average, and the force error
on held-out structures after the epoch::

    python benchmarks/atomistic_stream.py --n 1000000     # the issue's size (~tens of minutes)
    python benchmarks/atomistic_stream.py --n 2000        # a quick check

The store is kept (``--store``) and reused when it already holds ``--n`` structures.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SPECIES = (13, 28, 29)  # Al, Ni, Cu: all three are in ASE's EMT


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB on Linux


def alloys(n: int, seed: int):
    """``n`` labelled periodic 4-atom alloy cells, one EMT call each (~5 ms a structure)."""
    from ase.build import bulk
    from ase.calculators.emt import EMT

    from sciml.atomistic import from_ase

    rng = np.random.default_rng(seed)
    calc = EMT()
    base = bulk("Cu", "fcc", a=3.6, cubic=True)
    for _ in range(n):
        atoms = base.copy()
        atoms.set_atomic_numbers(rng.choice(SPECIES, size=len(atoms)))
        atoms.set_cell(atoms.cell * (1 + 0.03 * rng.standard_normal()), scale_atoms=True)
        atoms.positions += 0.08 * rng.standard_normal(atoms.positions.shape)
        atoms.calc = calc
        atoms.get_potential_energy()
        atoms.get_forces()
        yield from_ase([atoms], species=SPECIES)[0]


GAP = 15.0  # A between clusters labelled together: beyond EMT's cutoff (checked in cluster_check)


def _fragments(count: int, rng) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` alloy nanoclusters of 4-8 atoms: the fcc sites nearest a random point,
    random species, strained by a few percent and rattled."""
    a = 3.6
    grid = np.stack(np.meshgrid(*[np.arange(-2, 3)] * 3, indexing="ij"), -1).reshape(-1, 3)
    sites = np.concatenate([grid, grid + [0.5, 0.5, 0], grid + [0.5, 0, 0.5], grid + [0, 0.5, 0.5]]) * a
    out = []
    for _ in range(count):
        size = int(rng.integers(4, 9))
        centre = rng.uniform(0, a, 3)
        pos = sites[np.argsort(np.linalg.norm(sites - centre, axis=1))[:size]] - centre
        pos = pos * (1 + 0.03 * rng.standard_normal()) + 0.08 * rng.standard_normal(pos.shape)
        out.append((rng.choice(SPECIES, size=size), pos))
    return out


def _label_together(fragments):
    """EMT energies and forces of many clusters from one calculation: the clusters sit on a
    grid ``GAP`` apart, where EMT's finite cutoff makes them independent, and EMT's energy is
    a sum of atomic energies, so each cluster's energy is the sum over its atoms."""
    from ase import Atoms
    from ase.calculators.emt import EMT

    side = int(np.ceil(len(fragments) ** (1 / 3)))
    corners = np.stack(np.unravel_index(np.arange(len(fragments)), (side,) * 3), -1) * GAP
    atoms = Atoms(numbers=np.concatenate([z for z, _ in fragments]),
                  positions=np.concatenate([p + c for (_, p), c in zip(fragments, corners)]))
    atoms.calc = EMT()
    energies, forces = atoms.get_potential_energies(), atoms.get_forces()
    bounds = np.cumsum([0] + [len(z) for z, _ in fragments])
    return [(float(energies[lo:hi].sum()), forces[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:])]


def clusters(n: int, seed: int, per_call: int = 4000):
    """``n`` labelled alloy nanoclusters, ``per_call`` of them labelled in one EMT call
    (~0.6 ms a structure)."""
    from sciml.atomistic import Structure

    rng = np.random.default_rng(seed)
    for start in range(0, n, per_call):
        fragments = _fragments(min(per_call, n - start), rng)
        for (numbers, positions), (energy, forces) in zip(fragments, _label_together(fragments)):
            yield Structure(numbers=numbers, positions=positions, energy=energy, forces=forces)


def cluster_check(count: int = 50, seed: int = 123) -> float:
    """Largest difference (eV, eV/A) between clusters labelled together and one at a time."""
    from ase import Atoms
    from ase.calculators.emt import EMT

    fragments = _fragments(count, np.random.default_rng(seed))
    worst = 0.0
    for (numbers, positions), (energy, forces) in zip(fragments, _label_together(fragments)):
        alone = Atoms(numbers=numbers, positions=positions)
        alone.calc = EMT()
        worst = max(worst, abs(alone.get_potential_energy() - energy), np.abs(alone.get_forces() - forces).max())
    return worst


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--store", type=pathlib.Path, default=None, help="default /tmp/sciml-alloys-N.h5")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--periodic", action="store_true",
                    help="periodic 4-atom alloy cells (one EMT call each, ~8x slower to generate) "
                         "instead of 4-8 atom nanoclusters labelled many at a time")
    ap.add_argument("--out", type=pathlib.Path, default=RESULTS / "atomistic_stream.json")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))

    from sciml.atomistic import GraphBatcher, Potential, fit, fit_species_shifts, potential_config
    from sciml.atomistic.models import build_network
    from sciml.atomistic.store import StructureStore, write_store
    from sciml.atomistic.train import make_evaluator

    report = {"benchmark": "atomistic_stream", "n_structures": args.n, "batch_size": args.batch_size,
              "cpu_count": os.cpu_count(), "stages": {}}

    def stage(name, t0, **extra):
        report["stages"][name] = {"wall_s": round(time.perf_counter() - t0, 1), "peak_rss_gb": round(peak_rss_gb(), 3),
                                  "load_avg_1min": round(os.getloadavg()[0], 2), **extra}
        print(name, json.dumps(report["stages"][name]), flush=True)

    kind = "periodic" if args.periodic else "clusters"
    report["structures"] = kind
    path = args.store or pathlib.Path(f"/tmp/sciml-{kind}-{args.n}.h5")
    t0 = time.perf_counter()
    if not args.periodic:
        report["labels_together_vs_alone_max_diff"] = cluster_check()
        assert report["labels_together_vs_alone_max_diff"] < 1e-9, report
    if not (path.exists() and len(StructureStore(path)) == args.n):
        write_store(path, (alloys if args.periodic else clusters)(args.n, args.seed), SPECIES)
    stage("generate", t0, file_gb=round(path.stat().st_size / 2**30, 3))

    t0 = time.perf_counter()
    store = StructureStore(path)
    batcher = GraphBatcher(store, cutoff=4.0, batch_size=args.batch_size)
    stage("count_edges", t0, pad=list(batcher.pad))

    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(store))
    held_out, train = order[:1000], order[1000:]
    shifts = fit_species_shifts(store.composition(train), store.energies(train))
    net = build_network("nequip", len(SPECIES), seed=args.seed, cutoff=4.0, channels=8, lmax=1, n_layers=2,
                        avg_neighbors=batcher.mean_neighbors())
    steps = -(-len(train) // args.batch_size)  # one epoch
    t0 = time.perf_counter()
    out = fit(Potential(net, SPECIES, shifts, 1.0), batcher, train, held_out[:200],
              potential_config(steps, seed=args.seed), eval_every=max(1, steps // 10))
    stage("train_one_epoch", t0, steps=out.steps, structures_per_s=round(out.structures_per_s, 1))

    t0 = time.perf_counter()
    errors = make_evaluator(batcher, ("energy", "forces"))(out.potential, held_out)
    stage("evaluate_held_out", t0, **{k: round(v, 2) for k, v in errors.items()})
    report["peak_rss_gb"] = round(peak_rss_gb(), 3)
    report["under_4_gb"] = report["peak_rss_gb"] < 4.0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"peak RSS {report['peak_rss_gb']:.2f} GB over {args.n} structures; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
