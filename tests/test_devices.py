"""Data-parallel training over several devices: the same numbers on 1 and on 4, and a
checkpoint written on 4 devices resumed on 1.

JAX fixes its device count when it starts, so each run is its own process with four host CPU
devices (``XLA_FLAGS=--xla_force_host_platform_device_count=4``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

FOUR_HOST_DEVICES = "--xla_force_host_platform_device_count=4"
SMALL = ("--hidden", "16,16", "--lbfgs-steps", "0", "--no-progress", "--seed", "0",
         "--train", 'points={"interior": 256, "boundary": 32}', "--train", "chunk=50")


def _solve(root, out, *args):
    env = {**os.environ, "XLA_FLAGS": FOUR_HOST_DEVICES, "JAX_PLATFORMS": "cpu"}
    res = subprocess.run([sys.executable, "-m", "sciml.cli", "solve", str(root / "problems" / "heat.py"),
                          *SMALL, "--out", str(out), *args],
                         capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads((out / "metrics.json").read_text())


@pytest.fixture(scope="module")
def one_device(root, tmp_path_factory):
    return _solve(root, tmp_path_factory.mktemp("d1") / "run", "--steps", "200", "--devices", "1")


@pytest.mark.slow
def test_same_loss_on_one_and_four_devices(root, tmp_path, one_device):
    four = _solve(root, tmp_path / "d4", "--steps", "200", "--devices", "4")
    a, b = one_device["loss"], four["loss"]
    assert abs(a - b) <= 1e-3 * abs(a), (a, b)
    assert abs(one_device["rel_l2"] - four["rel_l2"]) <= 1e-3 * one_device["rel_l2"]


@pytest.mark.slow
def test_checkpoint_from_four_devices_resumes_on_one(root, tmp_path):
    """A run on four devices stopped by SIGINT after a checkpoint, resumed on one device, ends
    where an uninterrupted one-device run does."""
    steps = ("--steps", "1000", "--train", "checkpoint_every=50")
    straight = _solve(root, tmp_path / "straight", *steps, "--devices", "1")
    out = tmp_path / "moved"
    env = {**os.environ, "XLA_FLAGS": FOUR_HOST_DEVICES, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.Popen([sys.executable, "-m", "sciml.cli", "solve", str(root / "problems" / "heat.py"),
                             *SMALL, *steps, "--devices", "4", "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 300
    while proc.poll() is None and not (out / "checkpoint.msgpack").is_file() and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=300)[1]
    assert proc.returncode == 130 and "interrupted" in err, err[-2000:]
    assert not (out / "metrics.json").exists()
    resumed = _solve(root, out, *steps, "--devices", "1", "--resume")
    assert resumed["steps"] == 1000
    a, b = straight["loss"], resumed["loss"]
    assert abs(a - b) <= 1e-3 * abs(a), (a, b)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_processes_match_one(root, tmp_path):
    """Two processes of one device each (jax.distributed, a local coordinator, CPU collectives)
    train heat as one process with two devices does; process 0 alone writes the folder."""
    port = _free_port()
    cli = [sys.executable, "-m", "sciml.cli", "solve", str(root / "problems" / "heat.py"), *SMALL, "--steps", "200"]
    procs = [subprocess.Popen([*cli, "--distributed", "--out", str(tmp_path / "two")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "JAX_PLATFORMS": "cpu", "JAX_COORDINATOR_ADDRESS": f"localhost:{port}",
                                   "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": str(i)})
             for i in range(2)]
    errors = [p.communicate(timeout=600)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors[0][-2000:] + errors[1][-2000:]
    assert "2 cpu device(s) in 2 processes" in errors[0]
    one = subprocess.run([*cli, "--out", str(tmp_path / "one")], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "JAX_PLATFORMS": "cpu",
                              "XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    assert one.returncode == 0, one.stderr[-3000:]
    a, b = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in ("one", "two"))
    assert abs(a["loss"] - b["loss"]) <= 1e-5 * abs(a["loss"]), (a["loss"], b["loss"])


def test_more_devices_than_present_is_a_clear_error(root, tmp_path):
    env = {**os.environ, "XLA_FLAGS": FOUR_HOST_DEVICES, "JAX_PLATFORMS": "cpu"}
    res = subprocess.run([sys.executable, "-m", "sciml.cli", "solve", str(root / "problems" / "heat.py"),
                          *SMALL, "--steps", "10", "--devices", "8", "--out", str(tmp_path / "x")],
                         capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "devices=8" in res.stderr and "sees 4 cpu device(s)" in res.stderr


ATOMISTIC = """
import json, sys
import numpy as np
import sciml
from sciml.atomistic import AtomisticProblem
from sciml.atomistic.data import load

structures, _ = load("ethanol")
split = {"train": np.arange(30), "val": np.arange(30, 34), "test": np.arange(34, 40)}
problem = AtomisticProblem(
    name="ethanol_tiny", structures=structures[np.arange(40)], split=split, cutoff=4.0,
    model_options={"nequip": {"channels": 4, "lmax": 1, "n_layers": 1, "n_basis": 4, "radial_hidden": 8}},
    steps=6, train_options={"batch_size": 6, "eval_every": 6})
out = {}
for devices in (1, 4):
    res = sciml.solve(problem, model="nequip", steps=6, seed=0, devices=devices)
    out[devices] = {"loss": float(res.history["train_loss"][-1]), "force_mae": float(res.metrics["force_mae"])}
print(json.dumps(out))
"""


@pytest.mark.slow
def test_atomistic_training_same_on_one_and_four_devices():
    """Batches of 6 structures split 2/2/1/1 over four devices, each shard padded alike: the
    mean loss over six steps and the trained potential's test error match one device's."""
    env = {**os.environ, "XLA_FLAGS": FOUR_HOST_DEVICES, "JAX_PLATFORMS": "cpu"}
    res = subprocess.run([sys.executable, "-c", ATOMISTIC], capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    figures = json.loads(res.stdout.strip().splitlines()[-1])
    one, four = figures["1"], figures["4"]
    for key in ("loss", "force_mae"):
        assert abs(one[key] - four[key]) <= 1e-4 * abs(one[key]), (key, one, four)


ENSEMBLE = """
import json, sciml
from sciml.solver import load_problem, problem_path
problem = load_problem(problem_path("lotka_volterra_ude"))
out = {}
for devices in (1, 4):
    res = sciml.solve(problem, model="node", steps=20, seed=0, lbfgs_steps=0, members=4, devices=devices,
                      rtol=1e-7, atol=1e-9, progress=False)
    out[devices] = res.metrics["member_loss"]
print(json.dumps(out))
"""


@pytest.mark.slow
def test_ode_ensemble_same_on_one_and_four_devices():
    """Four members of a neural-ODE ensemble, one per device: each member's loss as on one.
    (A tight ODE tolerance: round-off that differs between layouts may otherwise tip an
    adaptive step, which moves a trajectory by up to the tolerance.)"""
    env = {**os.environ, "XLA_FLAGS": FOUR_HOST_DEVICES, "JAX_PLATFORMS": "cpu"}
    res = subprocess.run([sys.executable, "-c", ENSEMBLE], capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    figures = json.loads(res.stdout.strip().splitlines()[-1])
    one, four = figures["1"], figures["4"]
    assert len(one) == 4 and len(set(one)) == 4  # four different members
    for a, b in zip(one, four):
        assert abs(a - b) <= 1e-4 * abs(a), (one, four)


@pytest.mark.slow
def test_gpu_script_dry_run_writes_every_section(root, tmp_path):
    """benchmarks/gpu.sh --dry-run: every part of the GPU run at toy sizes on the CPU."""
    out = tmp_path / "gpu.json"
    res = subprocess.run(["bash", str(root / "benchmarks" / "gpu.sh"), "--dry-run", "--out", str(out)],
                         capture_output=True, text=True, timeout=900,
                         env={**os.environ, "PY": sys.executable, "JAX_PLATFORMS": "cpu"})
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["dry_run"] is True and report["card"]
    rows = report["kan"][0]["ms_per_step"]
    for name in ("sciml_bspline", "sciml_rbf", "floor_rbf_matmul"):
        assert rows[name]["ms"] > 0
    assert report["burgers"]["runs"][0]["rel_l2"] > 0
    for model in ("nequip", "mace"):
        assert report["atomistic"][model]["structures_per_s"] > 0
    assert "skipped" in report["atomistic"]["mace-torch"]


def test_each_process_draws_only_the_blocks_of_its_devices(monkeypatch):
    """Past its first block a set of points is drawn block by block from streams of its own:
    a process that keeps half the rows draws the blocks there, the same as a full draw, and
    leaves the rest zero; the first block is the batch's one stream, as for a small batch."""
    import numpy as np

    from sciml.dsl import compile as compile_module
    from sciml.solver import load_problem, problem_path

    compiled = compile_module.compile_problem(load_problem(problem_path("heat")))
    counts = {"interior": 300, "boundary": 130}
    small = compiled.sample(np.random.default_rng([0, 5]), {"interior": 64, "boundary": 64})
    monkeypatch.setattr(compile_module, "BLOCK", 64)
    full = compiled.sample(np.random.default_rng([0, 5]), counts)
    half = compiled.sample(np.random.default_rng([0, 5]), counts, needed=lambda n: [(0, n // 2)])
    z_full, z_half = full["interior"]["z"], half["interior"]["z"]
    assert z_full.shape == z_half.shape == (300, 2)
    np.testing.assert_array_equal(z_full[:64], small["interior"]["z"])  # the one stream first
    np.testing.assert_array_equal(z_half[:192], z_full[:192])  # blocks 0-2 hold rows 0-149
    assert not z_half[192:].any() and z_full[192:].all()
    assert len(np.unique(z_full, axis=0)) == 300  # every block its own points
    for name in full:
        assert jax_tree_equal_shapes(full[name], half[name])


def jax_tree_equal_shapes(a, b) -> bool:
    import jax

    return jax.tree.structure(a) == jax.tree.structure(b) and all(
        x.shape == y.shape for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

