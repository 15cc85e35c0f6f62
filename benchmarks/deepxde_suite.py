"""DeepXDE on the PDE suite's problems, with DeepXDE's own example settings, scored like sciml.

For each suite problem where DeepXDE has an example, the example's settings (network, points,
optimisers, iterations, resampling) train a DeepXDE network on *our* problem, and the network
is scored against the reference sciml uses for that problem, on the grid where sciml's
``Solution`` evaluates it (``sciml.result.evaluation_set``: the reference dataset's grid, or the
exact solution on a 101-point-per-axis grid over the domain's bounding box, points outside the
domain left out), as a relative L2 error pooled over the fields (``Solution.error_metrics``).

Settings (DeepXDE 1.15.0; example files from github.com/lululxvi/deepxde, read at commit
99b66203; defaults of ``dde.optimizers.set_LBFGS_options`` where the example calls
``model.compile("L-BFGS")`` without options: maxcor 100, ftol 0, gtol 1e-8, maxiter 15000,
maxfun 18750, maxls 50; float32, DeepXDE's default, in every example):

``poisson_lshape`` -- ``examples/pinn_forward/Poisson_Lshape.py``
    -Laplace(u) = 1 on ``Polygon([[0,0],[1,0],[1,-1],[-1,-1],[-1,1],[0,1]])``, u = 0 on the
    boundary (``DirichletBC``). ``FNN([2] + [50]*4 + [1], "tanh", "Glorot uniform")``;
    ``num_domain=1200, num_boundary=120, num_test=1500`` (fixed points, no resampling); Adam
    lr 1e-3 for 50000 iterations, then L-BFGS (defaults above). DeepXDE 1.15.0's ``Polygon``
    gives float64 boundary points, which its PyTorch backend rejects against the float32
    network; the points are cast to float32 (``_cast_points``), as the other backends do.
    Reference: P2 finite elements, ``datasets/lshape.nc`` (101 x 101 grid, the L's points).

``wave1d`` -- ``examples/pinn_forward/wave_1d.py`` (after Wang, Wang & Perdikaris 2021)
    The example solves u_tt = C^2 u_xx with C = 10, A = 2; here our problem: C = 2,
    u(x, 0) = sin(pi x) + 0.5 sin(4 pi x), u_t(x, 0) = 0 (``OperatorBC`` on ``u_t`` at t = 0,
    as in the example), u = 0 at x = 0, 1 (``DirichletBC``), x, t in [0, 1].
    ``STMsFFN([2] + [100]*3 + [1], "tanh", "Glorot uniform", sigmas_x=[1], sigmas_t=[1, 10])``
    with the feature transform ``(x - 0.5) * 2 * sqrt(3)``; ``num_domain=360,
    num_boundary=360, num_initial=360, num_test=10000``, metric "l2 relative error" against
    the exact solution (the example's, displayed only); loss weights ``5 / initial losses``
    (losses of the untrained network, from ``model.train(0)``); Adam lr 1e-3 with
    ``decay=("inverse time", 2000, 0.9)`` for 10000 iterations, ``display_every=500``, PDE
    points resampled every iteration (``PDEPointResampler(period=1)``); no L-BFGS. Reference:
    the closed form (``problems/wave1d.py``'s ``exact=``) on the 101 x 101 grid.

``schrodinger`` -- ``examples/pinn_forward/Schrodinger.ipynb``
    i h_t + 0.5 h_xx + |h|^2 h = 0, h = u + i v, x in [-5, 5], t in [0, pi/2], h(x, 0) = 2 sech x,
    periodic u, v, u_x, v_x (four ``PeriodicBC``, derivative orders 0 and 1), ``IC`` for u and v.
    ``FNN([2] + [100]*4 + [2], "tanh", "Glorot normal")``; ``num_domain=10000,
    num_boundary=20, num_initial=200, train_distribution="pseudo"`` (fixed points); Adam lr
    1e-3, loss "MSE", 10000 iterations (``display_every=1000``); then L-BFGS with
    ``set_LBFGS_options(maxcor=50, ftol=np.finfo(float).eps, gtol=1e-8, maxiter=10000,
    maxfun=10000, maxls=50)``. Reference: Fourier spectral ETDRK4, ``datasets/schrodinger.nc``
    (257 x 101); figures: pooled u, v (as sciml) and |h| alone (as Raissi et al. 2019, who
    report 1.97e-3; the notebook reports 1.43e-3 against Raissi's NLS.mat).

``burgers`` -- ``examples/pinn_forward/Burgers.py``
    u_t + u u_x = 0.01/pi u_xx, x in [-1, 1], u(x, 0) = -sin(pi x), u(+-1, t) = 0.
    ``FNN([2] + [20]*3 + [1], "tanh", "Glorot normal")``; ``num_domain=2540,
    num_boundary=80, num_initial=160`` (fixed points); Adam lr 1e-3 for 15000 iterations, then
    L-BFGS (defaults above). The example trains on t in [0, 0.99] (its data set's range); here
    t in [0, 1], our problem's. Reference: Cole-Hopf, ``datasets/burgers.nc`` (256 x 101).

``burgers_anchor`` -- the earlier anchor (``deepxde_burgers.py``, Lu et al. 2021's setting):
    the ``burgers`` network and points, Adam lr 1e-3 for 5000 iterations only, JAX backend.

Backends: the JAX backend of DeepXDE 1.15.0 has no L-BFGS, no "inverse time" decay and no
``STMsFFN``, so every example above runs on the PyTorch backend (torch 2.13.0 CPU, the backend
the wave example names); ``burgers_anchor`` keeps JAX (Adam only), as it always had. DeepXDE
1.15.0's PyTorch backend lacks ``STMsFFN`` too (added upstream in commit 7039adf7,
"Backend Pytorch: Support msffn and stmsffn", after the release): when the installed DeepXDE
has none, that upstream class is used as written there (``_pytorch_stmsffn``). On PyTorch,
DeepXDE runs L-BFGS as repeated ``torch.optim.LBFGS`` calls of at most 1000 iterations and 1250
evaluations each (fixed when DeepXDE is imported, whatever ``set_LBFGS_options`` says later)
until ``maxiter`` iterations are done; a shortened run (``--steps-scale``, ``--smoke``) lowers the
per-call limits to its own ``maxiter``/``maxfun``. The iterations actually made are recorded.

DeepXDE is a benchmark-only dependency and lives in its own virtual environment::

    python -m venv --system-site-packages /work/benchenv-dde
    /work/benchenv-dde/bin/pip install deepxde torch==2.13.0

Run (writes ``benchmarks/results/deepxde_suite.json``; one training at a time)::

    python benchmarks/deepxde_suite.py                                  # every example, seed 0
    python benchmarks/deepxde_suite.py --only wave1d,schrodinger --seed 0 1 2
    python benchmarks/deepxde_suite.py --smoke                          # plumbing only

``--smoke`` caps every phase at 50 Adam and 5 L-BFGS iterations (DeepXDE's PyTorch L-BFGS loop
may overshoot by a few) and writes ``results/deepxde_suite_smoke.json`` unless ``--out`` says
otherwise: it checks the plumbing and the scoring, not DeepXDE. ``--steps-scale S`` multiplies
every phase's iteration count (records carry ``smoke`` and ``steps_scale``).
From another benchmark, in the same run::

    from deepxde_suite import run_deepxde
    figures = run_deepxde("wave1d", seed=0)   # dict: rel_l2, wall_s, ms_per_step, ...

Training runs in a subprocess with the venv's interpreter (``DDE_BACKEND`` per problem); the
points to predict at go to it, and its predictions come back, through a temporary ``.npz``, its
figures as JSON. Timings: ``train_s`` is the wall time of the ``model.train`` calls (JIT
compilation included for JAX); ``wall_s`` adds DeepXDE's import and problem and model set-up
(the wave example's initial-loss pass included); ``ms_per_step`` is ``train_s`` per optimiser
iteration (Adam and L-BFGS together; per phase in ``phases``); ``ms_per_step_steady`` leaves out
the first display interval of the Adam phase; ``train_cpu_s`` is the training process's CPU
time (all its threads). Every record carries the machine and the load average before and after.

References: Lu, Meng, Mao, Karniadakis (2021), "DeepXDE: A deep learning library for solving
differential equations", SIAM Review 63(1); Wang, Wang, Perdikaris (2021), CMAME 384, 113938;
Raissi, Perdikaris, Karniadakis (2019), J. Comput. Phys. 378, 686-707.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_PYTHON = os.environ.get("DEEPXDE_PYTHON", "/work/benchenv-dde/bin/python")
MARKER = "DEEPXDE_RESULT "
SMOKE_CAPS = {"adam": 50, "L-BFGS": 5}  # --smoke: iterations per phase at most

# Problem (as in problems/<file>.py) -> how DeepXDE is run on it.
#   file: the sciml problem file scored against; backend: DDE_BACKEND; outputs: the network's
#   output columns, as sciml field names; source: the DeepXDE example.
EXAMPLES = {
    "poisson_lshape": {"file": "poisson_lshape", "backend": "pytorch", "outputs": ["u"],
                       "source": "examples/pinn_forward/Poisson_Lshape.py"},
    "wave1d": {"file": "wave1d", "backend": "pytorch", "outputs": ["u"],
               "source": "examples/pinn_forward/wave_1d.py"},
    "schrodinger": {"file": "schrodinger", "backend": "pytorch", "outputs": ["u", "v"],
                    "source": "examples/pinn_forward/Schrodinger.ipynb"},
    "burgers": {"file": "burgers", "backend": "pytorch", "outputs": ["u"],
                "source": "examples/pinn_forward/Burgers.py"},
    "burgers_anchor": {"file": "burgers", "backend": "jax", "outputs": ["u"],
                       "source": "Lu et al. 2021 (SIAM Review) Burgers setting, Adam only"},
}
SUITE_EXAMPLES = ["burgers", "wave1d", "schrodinger", "poisson_lshape"]  # the default run
# Derived quantities also scored (not pooled): name -> (fields used, function of them).
DERIVED = {"schrodinger": {"h": (("u", "v"), lambda u, v: (u**2 + v**2) ** 0.5)}}


def machine_info() -> dict:
    """Where the figures were measured: host, CPUs, load, Python."""
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
    try:
        info["load_average"] = list(os.getloadavg())
    except OSError:
        pass
    return info


# ---------------------------------------------------------------------------------------------
# Scoring (in the sciml environment): the grid and the error of sciml's Solution.
# ---------------------------------------------------------------------------------------------


def evaluation_points(problem) -> dict:
    """``{field: (points (n, d), reference (n,), valid (n,), shape)}`` where sciml's ``Solution``
    compares that field: the same grid, coordinates in ``problem.coordinate_names`` order."""
    import numpy as np
    import xarray as xr

    from sciml.result import evaluation_set

    ref = evaluation_set(problem)
    names = problem.coordinate_names
    out = {}
    for f in ref.data_vars:
        da = ref[f]
        pts = np.stack([np.asarray(xr.broadcast(da, da[n])[1].values, float).ravel() for n in names], axis=1)
        values = np.asarray(da.values, float).ravel()
        out[str(f)] = (pts, values, np.isfinite(values), da.shape)
    return out


def relative_l2(predicted: dict, reference: dict) -> dict:
    """Relative L2 errors as ``Solution.error_metrics`` computes them: per field, and pooled
    over the fields (sum of squared errors over sum of squared reference values), over the
    points where the reference is finite. ``predicted``/``reference``: field -> values."""
    import numpy as np

    by_field, num, den = {}, 0.0, 0.0
    for f, r in reference.items():
        r = np.asarray(r, float)
        ok = np.isfinite(r)
        e = np.asarray(predicted[f], float)[ok] - r[ok]
        by_field[f] = float(np.linalg.norm(e) / max(np.linalg.norm(r[ok]), 1e-300))
        num += float(np.sum(e**2))
        den += float(np.sum(r[ok] ** 2))
    return {"rel_l2": float(np.sqrt(num / max(den, 1e-300))), "rel_l2_by_field": by_field}


def score(name: str, predicted: dict, points: dict) -> dict:
    """The figures of a prediction ``{field: values on points[field]}``: pooled and per-field
    rel L2, plus derived quantities (|h| for Schrödinger) on the shared grid."""
    import numpy as np

    reference = {f: p[1] for f, p in points.items()}
    out = relative_l2(predicted, reference)
    derived = {}
    for d, (fields, fn) in DERIVED.get(name, {}).items():
        grids = [points[f][0] for f in fields]
        if not all(np.array_equal(g, grids[0]) for g in grids):
            raise ValueError(f"{d}: fields {fields} are not on one grid")
        derived[d] = relative_l2({d: fn(*(predicted[f] for f in fields))},
                                 {d: fn(*(reference[f] for f in fields))})["rel_l2"]
    if derived:
        out["rel_l2_derived"] = derived
    return out


def _load_problem(name: str):
    if str(ROOT) not in sys.path:  # this checkout's sciml, as `python -m sciml.cli` from it would use
        sys.path.insert(0, str(ROOT))
    from sciml.solver import load_problem

    return load_problem(ROOT / "problems" / f"{EXAMPLES[name]['file']}.py")


def _describe_grid(points: dict) -> str:
    shapes = {tuple(p[3]) for p in points.values()}
    n_valid = {int(p[2].sum()) for p in points.values()}
    return (f"sciml evaluation grid {' x '.join(map(str, shapes.pop()))}"
            f" ({'/'.join(map(str, n_valid))} points in the domain)" if len(shapes) == 1 else str(shapes))


def _check_name(name: str) -> None:
    if name not in EXAMPLES:
        raise KeyError(f"no DeepXDE example for {name!r}; known: {', '.join(EXAMPLES)}")


def export_points(name: str, points_file: str | pathlib.Path) -> dict:
    """Write the points where ``name`` is scored (``{field: (n, d)}``, in the domain) to
    ``points_file`` for a worker; returns the scoring points (``evaluation_points``)."""
    import numpy as np

    _check_name(name)
    points = evaluation_points(_load_problem(name))
    np.savez(points_file, **{f: p[0][p[2]] for f, p in points.items()})
    return points


def worker_command(name: str, seed: int, points_file, pred_file, *, python: str = DEFAULT_PYTHON,
                   steps_scale: float = 1.0, smoke: bool = False) -> list[str]:
    """The command that trains DeepXDE's example for ``name`` and writes its predictions at
    ``points_file`` to ``pred_file``; it needs DeepXDE and its backend, not sciml, so it can run
    on another machine (``--export``/``--collect``). Set ``DDE_BACKEND`` (``EXAMPLES``) for it."""
    return [python, str(pathlib.Path(__file__).resolve()), "--worker", name, "--seed", str(seed),
            "--steps-scale", repr(steps_scale), "--points", str(points_file), "--predictions", str(pred_file),
            *(["--smoke"] if smoke else [])]


def collect(name: str, stdout: str, pred_file, points: dict) -> dict:
    """Score a finished worker: its figures (the last ``MARKER`` line of ``stdout``) and its
    predictions in ``pred_file``, against ``points`` (``evaluation_points``).

    Raises:
        RuntimeError: ``stdout`` holds no figures (the worker failed or was stopped).
    """
    import numpy as np

    lines = [ln for ln in stdout.splitlines() if ln.startswith(MARKER)]
    if not lines:
        raise RuntimeError(f"DeepXDE run {name} left no figures; the end of its output:\n{stdout[-3000:]}")
    figures = json.loads(lines[-1][len(MARKER):])
    outputs = EXAMPLES[name]["outputs"]
    with np.load(pred_file) as pred:
        predicted = {}
        for f, (_, values, valid, _) in points.items():
            full = np.full(values.shape, np.nan)
            full[valid] = pred[f][:, outputs.index(f)]
            predicted[f] = full
    figures.update(score(name, predicted, points))
    figures["reference"] = f"{EXAMPLES[name]['file']} problem's reference, {_describe_grid(points)}"
    return figures


def run_deepxde(name: str, seed: int = 0, *, steps_scale: float = 1.0, smoke: bool = False,
                python: str = DEFAULT_PYTHON, timeout: float | None = None) -> dict:
    """Train DeepXDE's example for problem ``name`` in the benchmark venv and score it.

    Returns a dict: rel_l2 (pooled), rel_l2_by_field, rel_l2_derived, wall_s, train_s,
    ms_per_step, steps, phases, config, versions, machine, load averages.

    Raises:
        FileNotFoundError: ``python`` (the venv interpreter) does not exist.
        RuntimeError: the subprocess failed; the message holds the end of its output.
    """
    _check_name(name)
    if not pathlib.Path(python).exists():
        raise FileNotFoundError(
            f"no interpreter at {python}; create the benchmark venv with `python -m venv "
            "--system-site-packages /work/benchenv-dde && /work/benchenv-dde/bin/pip install "
            "deepxde torch==2.13.0`, or pass python=... (or set DEEPXDE_PYTHON)")
    load_start = list(os.getloadavg())
    env = dict(os.environ, DDE_BACKEND=EXAMPLES[name]["backend"],
               JAX_PLATFORMS=os.environ.get("JAX_PLATFORMS", "cpu"))
    with tempfile.TemporaryDirectory(prefix=f"dde-{name}-") as tmp:
        pts_file, pred_file = pathlib.Path(tmp) / "points.npz", pathlib.Path(tmp) / "pred.npz"
        points = export_points(name, pts_file)
        cmd = worker_command(name, seed, pts_file, pred_file, python=python, steps_scale=steps_scale, smoke=smoke)
        start = time.perf_counter()
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=timeout)
        process_s = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"DeepXDE run {name} failed (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-3000:]}")
        figures = collect(name, proc.stdout, pred_file, points)
    figures["process_wall_s"] = process_s
    figures["load_average_start"] = load_start
    figures["load_average_end"] = list(os.getloadavg())
    return figures


def collect_exported(name: str, directory: str | pathlib.Path) -> dict:
    """Score a worker that ran elsewhere from ``--export DIR``'s files: ``DIR/<name>.points.npz``
    (re-derived here and checked against the exported one), the worker's output
    ``DIR/<name>.log``, its predictions ``DIR/<name>.pred.npz``, and, if present,
    ``DIR/<name>.wall`` (the worker process's wall seconds, measured where it ran)."""
    import numpy as np

    directory = pathlib.Path(directory)
    points = evaluation_points(_load_problem(name))
    with np.load(directory / f"{name}.points.npz") as sent:
        for f, p in points.items():
            if not np.array_equal(sent[f], p[0][p[2]]):
                raise ValueError(f"{directory / name}.points.npz was exported from another grid than {name}'s now")
    figures = collect(name, (directory / f"{name}.log").read_text(errors="replace"), directory / f"{name}.pred.npz",
                      points)
    wall = directory / f"{name}.wall"
    figures["process_wall_s"] = float(wall.read_text().split()[0]) if wall.exists() else figures["wall_s"]
    return figures


# ---------------------------------------------------------------------------------------------
# The examples (in the DeepXDE venv). Each builder returns (model, phases, config).
# ---------------------------------------------------------------------------------------------

LBFGS_DEFAULTS = {"maxcor": 100, "ftol": 0.0, "gtol": 1e-8, "maxiter": 15000, "maxfun": None, "maxls": 50}


def _pytorch_stmsffn(dde):
    """DeepXDE's spatio-temporal multi-scale Fourier feature network for the PyTorch backend,
    as upstream wrote it (deepxde/nn/pytorch/msffn.py, commit 7039adf7, after 1.15.0): only
    the STMsFFN path (MsFFN's constructor with no sigmas, its Fourier and dense layers)."""
    import torch
    import torch.nn.functional as F
    from deepxde.nn import activations, initializers
    from deepxde.nn.pytorch.nn import NN
    from torch import nn

    class STMsFFN(NN):
        def __init__(self, layer_sizes, activation, kernel_initializer, sigmas_x, sigmas_t, dropout_rate=0):
            super().__init__()
            self.activation = activations.get(activation)
            self.dropout_rate = dropout_rate
            self.sigmas = []
            self.fourier_feature_weights = None
            initializer = initializers.get(kernel_initializer)
            initializer_zero = initializers.get("zeros")
            self.b = nn.ParameterList()
            self.linears = nn.ModuleList()
            for i in range(2, len(layer_sizes) - 1):
                linear = nn.Linear(layer_sizes[i - 1], layer_sizes[i])
                initializer(linear.weight)
                initializer_zero(linear.bias)
                self.linears.append(linear)
            self._dense = nn.Linear(layer_sizes[-2] * 2, layer_sizes[-1])
            initializer(self._dense.weight)
            initializer_zero(self._dense.bias)
            for sigma in sigmas_x:
                param = nn.Parameter(torch.empty(layer_sizes[0] - 1, layer_sizes[1] // 2))
                nn.init.normal_(param, mean=0.0, std=sigma)
                param.requires_grad_(False)  # freeze parameters
                self.b.append(param)
            for sigma in sigmas_t:
                param = nn.Parameter(torch.empty(1, layer_sizes[1] // 2))
                nn.init.normal_(param, mean=0.0, std=sigma)
                param.requires_grad_(False)
                self.b.append(param)
            self.sigmas_x = sigmas_x
            self.sigmas_t = sigmas_t

        def _fourier_feature_forward(self, y, b):
            proj = torch.matmul(y, b)
            return torch.cat([torch.cos(proj), torch.sin(proj)], dim=1), b

        def _fully_connected_forward(self, y):
            for linear in self.linears:
                y = self.activation(linear(y))
                if self.dropout_rate > 0:
                    y = F.dropout(y, p=self.dropout_rate, training=self.training)
            return y

        def forward(self, inputs):
            x = inputs
            if self._input_transform is not None:
                x = self._input_transform(x)
            yb_x = [self._fourier_feature_forward(x[:, :-1], self.b[i]) for i in range(len(self.sigmas_x))]
            offset = len(self.sigmas_x)
            yb_t = [self._fourier_feature_forward(x[:, -1:], self.b[offset + i])
                    for i in range(len(self.sigmas_t))]
            self.fourier_feature_weights = [elem[1] for elem in (yb_x + yb_t)]
            y_x = [self._fully_connected_forward(_yb[0]) for _yb in yb_x]
            y_t = [self._fully_connected_forward(_yb[0]) for _yb in yb_t]
            y = [torch.mul(_y_x, _y_t) for _y_x in y_x for _y_t in y_t]
            y = self._dense(torch.cat(y, dim=1))
            if self._output_transform is not None:
                y = self._output_transform(inputs, y)
            return y

    return STMsFFN


def _burgers(dde, np, adam_steps: int, lbfgs: bool):
    nu = 0.01 / np.pi
    jax_backend = dde.backend.backend_name == "jax"

    def pde(x, y):
        dy_x = dde.grad.jacobian(y, x, i=0, j=0)
        dy_t = dde.grad.jacobian(y, x, i=0, j=1)
        dy_xx = dde.grad.hessian(y, x, i=0, j=0)
        if jax_backend:  # y and its derivatives are (value, function) pairs
            y, dy_x, dy_t, dy_xx = y[0], dy_x[0], dy_t[0], dy_xx[0]
        return dy_t + y * dy_x - nu * dy_xx

    geomtime = dde.geometry.GeometryXTime(dde.geometry.Interval(-1, 1), dde.geometry.TimeDomain(0, 1))
    bc = dde.icbc.DirichletBC(geomtime, lambda x: 0, lambda _, on_boundary: on_boundary)
    ic = dde.icbc.IC(geomtime, lambda x: -np.sin(np.pi * x[:, 0:1]), lambda _, on_initial: on_initial)
    data = dde.data.TimePDE(geomtime, pde, [bc, ic], num_domain=2540, num_boundary=80, num_initial=160)
    layers = [2] + [20] * 3 + [1]
    model = dde.Model(data, dde.nn.FNN(layers, "tanh", "Glorot normal"))
    phases = [{"optimizer": "adam", "lr": 1e-3, "iterations": adam_steps, "display_every": 1000}]
    if lbfgs:
        phases.append({"optimizer": "L-BFGS", "lbfgs": dict(LBFGS_DEFAULTS)})
    config = {"layers": layers, "activation": "tanh", "initializer": "Glorot normal", "num_domain": 2540,
              "num_boundary": 80, "num_initial": 160, "time_domain": [0, 1]}
    return model, phases, config


def _build_burgers(dde, np):
    return _burgers(dde, np, 15000, lbfgs=True)


def _build_burgers_anchor(dde, np):
    return _burgers(dde, np, 5000, lbfgs=False)


def _cast_points(dde, np, data) -> str | None:
    """Training and test points in DeepXDE's float type. DeepXDE 1.15.0's ``Polygon`` makes its
    boundary points in float64 (its edge lengths are float64) while the network is float32; the
    PyTorch backend then stops with "mat1 and mat2 must have the same dtype" on the example as
    written (the TensorFlow and JAX backends convert). Casting the points is what they do."""
    real = dde.config.real(np)
    cast = [a for a in ("train_x_all", "train_x", "train_x_bc", "test_x")
            if getattr(data, a, None) is not None and getattr(data, a).dtype != real]
    for a in cast:
        setattr(data, a, getattr(data, a).astype(real))
    return f"{', '.join(cast)} cast to {np.dtype(real).name} (DeepXDE 1.15.0 Polygon boundary points are float64)" if cast else None


def _build_poisson_lshape(dde, np):
    def pde(x, y):
        dy_xx = dde.grad.hessian(y, x, i=0, j=0)
        dy_yy = dde.grad.hessian(y, x, i=1, j=1)
        return -dy_xx - dy_yy - 1

    geom = dde.geometry.Polygon([[0, 0], [1, 0], [1, -1], [-1, -1], [-1, 1], [0, 1]])
    bc = dde.icbc.DirichletBC(geom, lambda x: 0, lambda _, on_boundary: on_boundary)
    data = dde.data.PDE(geom, pde, bc, num_domain=1200, num_boundary=120, num_test=1500)
    cast = _cast_points(dde, np, data)
    layers = [2] + [50] * 4 + [1]
    model = dde.Model(data, dde.nn.FNN(layers, "tanh", "Glorot uniform"))
    phases = [{"optimizer": "adam", "lr": 1e-3, "iterations": 50000, "display_every": 1000},
              {"optimizer": "L-BFGS", "lbfgs": dict(LBFGS_DEFAULTS)}]
    config = {"layers": layers, "activation": "tanh", "initializer": "Glorot uniform",
              "geometry": "Polygon [[0,0],[1,0],[1,-1],[-1,-1],[-1,1],[0,1]]",
              "num_domain": 1200, "num_boundary": 120, "num_test": 1500,
              **({"points_cast": cast} if cast else {})}
    return model, phases, config


def _build_wave1d(dde, np):
    c, a = 2.0, 4.0  # our problem: u_tt = 4 u_xx; second mode sin(4 pi x) / 2 (the example: C=10, A=2)

    def pde(x, y):
        return dde.grad.hessian(y, x, i=1, j=1) - c**2 * dde.grad.hessian(y, x, i=0, j=0)

    def exact(x):  # the example's `func`: used by it for data and its displayed metric
        x, t = np.split(x, 2, axis=1)
        return np.sin(np.pi * x) * np.cos(c * np.pi * t) + 0.5 * np.sin(a * np.pi * x) * np.cos(a * c * np.pi * t)

    geomtime = dde.geometry.GeometryXTime(dde.geometry.Interval(0, 1), dde.geometry.TimeDomain(0, 1))
    bc = dde.icbc.DirichletBC(geomtime, lambda x: 0, lambda _, on_boundary: on_boundary)
    ic_1 = dde.icbc.IC(geomtime, lambda x: np.sin(np.pi * x[:, 0:1]) + 0.5 * np.sin(a * np.pi * x[:, 0:1]),
                       lambda _, on_initial: on_initial)
    ic_2 = dde.icbc.OperatorBC(geomtime, lambda x, y, _: dde.grad.jacobian(y, x, i=0, j=1),
                               lambda x, _: dde.utils.isclose(x[1], 0))
    data = dde.data.TimePDE(geomtime, pde, [bc, ic_1, ic_2], num_domain=360, num_boundary=360,
                            num_initial=360, solution=exact, num_test=10000)
    layers = [2] + [100] * 3 + [1]
    stmsffn = getattr(dde.nn, "STMsFFN", None)
    upstream = stmsffn is None
    if upstream:
        stmsffn = _pytorch_stmsffn(dde)
    net = stmsffn(layers, "tanh", "Glorot uniform", sigmas_x=[1], sigmas_t=[1, 10])
    net.apply_feature_transform(lambda x: (x - 0.5) * 2 * np.sqrt(3))
    model = dde.Model(data, net)
    # The example's get_initial_loss: the untrained network's loss terms weight them all to 5.
    model.compile("adam", lr=0.001, metrics=["l2 relative error"])
    losshistory, _ = model.train(0, verbose=0)
    initial_losses = np.asarray(losshistory.loss_train[0], float)
    phases = [{"optimizer": "adam", "lr": 1e-3, "iterations": 10000, "display_every": 500,
               "compile": {"metrics": ["l2 relative error"], "loss_weights": (5 / initial_losses).tolist(),
                           "decay": ("inverse time", 2000, 0.9)},
               "resample_period": 1}]
    config = {"net": "STMsFFN" + (" (upstream PyTorch class, commit 7039adf7)" if upstream else ""),
              "layers": layers, "activation": "tanh", "initializer": "Glorot uniform", "sigmas_x": [1],
              "sigmas_t": [1, 10], "feature_transform": "(x - 0.5) * 2 * sqrt(3)", "num_domain": 360,
              "num_boundary": 360, "num_initial": 360, "num_test": 10000,
              "loss_weights": "5 / initial losses", "initial_losses": initial_losses.tolist(),
              "problem": "u_tt = 4 u_xx, u(x,0) = sin(pi x) + 0.5 sin(4 pi x), u_t(x,0) = 0, u(0,t) = u(1,t) = 0"}
    return model, phases, config


def _build_schrodinger(dde, np):
    def pde(x, y):
        u, v = y[:, 0:1], y[:, 1:2]
        u_t = dde.grad.jacobian(y, x, i=0, j=1)
        v_t = dde.grad.jacobian(y, x, i=1, j=1)
        u_xx = dde.grad.hessian(y, x, component=0, i=0, j=0)
        v_xx = dde.grad.hessian(y, x, component=1, i=0, j=0)
        f_u = u_t + 0.5 * v_xx + (u**2 + v**2) * v
        f_v = v_t - 0.5 * u_xx - (u**2 + v**2) * u
        return [f_u, f_v]

    geomtime = dde.geometry.GeometryXTime(dde.geometry.Interval(-5, 5), dde.geometry.TimeDomain(0, np.pi / 2))
    on_b = lambda _, on_boundary: on_boundary  # noqa: E731
    bcs = [dde.icbc.PeriodicBC(geomtime, 0, on_b, derivative_order=order, component=comp)
           for comp in (0, 1) for order in (0, 1)]
    ic_u = dde.icbc.IC(geomtime, lambda x: 2 / np.cosh(x[:, 0:1]), lambda _, on_initial: on_initial, component=0)
    ic_v = dde.icbc.IC(geomtime, lambda x: 0, lambda _, on_initial: on_initial, component=1)
    data = dde.data.TimePDE(geomtime, pde, [*bcs, ic_u, ic_v], num_domain=10000, num_boundary=20,
                            num_initial=200, train_distribution="pseudo")
    layers = [2] + [100] * 4 + [2]
    model = dde.Model(data, dde.nn.FNN(layers, "tanh", "Glorot normal"))
    phases = [{"optimizer": "adam", "lr": 1e-3, "iterations": 10000, "display_every": 1000,
               "compile": {"loss": "MSE"}},
              {"optimizer": "L-BFGS", "lbfgs": {"maxcor": 50, "ftol": float(np.finfo(float).eps), "gtol": 1e-8,
                                                "maxiter": 10000, "maxfun": 10000, "maxls": 50}}]
    config = {"layers": layers, "activation": "tanh", "initializer": "Glorot normal", "num_domain": 10000,
              "num_boundary": 20, "num_initial": 200, "train_distribution": "pseudo",
              "conditions": "PeriodicBC u, u_x, v, v_x; IC u = 2 sech x, v = 0"}
    return model, phases, config


BUILDERS = {"poisson_lshape": _build_poisson_lshape, "wave1d": _build_wave1d,
            "schrodinger": _build_schrodinger, "burgers": _build_burgers,
            "burgers_anchor": _build_burgers_anchor}


def _scaled(n: int, scale: float, cap: int | None) -> int:
    n = max(1, int(round(n * scale)))
    return min(n, cap) if cap is not None else n


def _train(name: str, seed: int, steps_scale: float, smoke: bool, points_file: str, pred_file: str) -> dict:
    """Train DeepXDE's example for ``name`` in this process; save predictions; return figures."""
    load_start = list(os.getloadavg())
    t_start = time.perf_counter()
    import deepxde as dde
    import numpy as np

    backend = dde.backend.backend_name
    if backend != EXAMPLES[name]["backend"]:
        raise RuntimeError(f"DeepXDE loaded backend {backend!r}; set DDE_BACKEND={EXAMPLES[name]['backend']}")
    dde.config.set_random_seed(seed)
    model, phases, config = BUILDERS[name](dde, np)
    caps = SMOKE_CAPS if smoke else {}

    records, train_s, cpu_s, steady = [], 0.0, 0.0, None
    for phase in phases:
        opt = phase["optimizer"]
        step0 = model.train_state.step
        callbacks = []
        if phase.get("resample_period"):
            callbacks.append(dde.callbacks.PDEPointResampler(period=phase["resample_period"]))
        if opt == "L-BFGS":
            opts = dict(phase["lbfgs"])
            opts["maxiter"] = _scaled(opts["maxiter"], steps_scale, caps.get(opt))
            if opts["maxfun"] is not None and opts["maxiter"] < phase["lbfgs"]["maxiter"]:
                opts["maxfun"] = max(1, math.ceil(phase["lbfgs"]["maxfun"] * opts["maxiter"] / phase["lbfgs"]["maxiter"]))
            dde.optimizers.set_LBFGS_options(**opts)
            lbfgs = dde.optimizers.config.LBFGS_options
            if "iter_per_step" in lbfgs and lbfgs["iter_per_step"] > opts["maxiter"]:
                # PyTorch: iterations per optimiser call are fixed at import (min(1000, maxiter));
                # a shortened run must not take 1000 in its one call.
                lbfgs["iter_per_step"] = opts["maxiter"]
                lbfgs["fun_per_step"] = lbfgs["maxfun"]
            model.compile("L-BFGS", **phase.get("compile", {}))
            record = {"optimizer": opt, "options": {k: v for k, v in lbfgs.items()}}
            t0, c0 = time.perf_counter(), time.process_time()
            losshistory, _ = model.train(callbacks=callbacks, verbose=0)
        else:
            iterations = _scaled(phase["iterations"], steps_scale, caps.get(opt))
            display_every = min(phase["display_every"], iterations)
            compile_kwargs = phase.get("compile", {})
            model.compile(opt, lr=phase["lr"], **compile_kwargs)
            marks: list[float] = []

            class _Clock(dde.callbacks.Callback):
                def on_epoch_end(self):
                    if (self.model.train_state.step - step0) % display_every == 0:
                        marks.append(time.perf_counter())

            record = {"optimizer": opt, "lr": phase["lr"], "iterations_requested": iterations,
                      "display_every": display_every,
                      **{k: (list(v) if isinstance(v, tuple) else v) for k, v in compile_kwargs.items()
                         if k != "loss_weights"},
                      **({"resample_period": phase["resample_period"]} if phase.get("resample_period") else {})}
            t0, c0 = time.perf_counter(), time.process_time()
            losshistory, _ = model.train(iterations=iterations, display_every=display_every,
                                         callbacks=[*callbacks, _Clock()], verbose=0)
            if steady is None and len(marks) >= 2 and iterations > display_every:
                steady = (marks[-1] - marks[0]) / (iterations - display_every) * 1e3
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        done = int(model.train_state.step - step0)
        record.update({"iterations": done, "train_s": dt, "cpu_s": dc,
                       "ms_per_step": dt / max(done, 1) * 1e3,
                       "final_train_loss": float(np.sum(losshistory.loss_train[-1]))})
        if losshistory.metrics_test and len(losshistory.metrics_test[-1]):
            # The example's own metric (wave: l2 relative error on its num_test points).
            record["final_test_metrics"] = [float(m) for m in losshistory.metrics_test[-1]]
        records.append(record)
        train_s += dt
        cpu_s += dc
    t_end = time.perf_counter()

    with np.load(points_file) as pts:
        np.savez(pred_file, **{f: np.asarray(model.predict(pts[f]), float) for f in pts.files})

    steps = sum(r["iterations"] for r in records)
    versions = {"deepxde": dde.__version__, "numpy": np.__version__}
    if backend == "jax":
        import jax

        versions["jax"] = jax.__version__
        n_params = sum(int(np.size(p)) for p in jax.tree.leaves(model.params[0]))
        devices, threads = [str(d) for d in jax.devices()], None
    else:
        import torch

        versions["torch"] = torch.__version__
        n_params = int(sum(p.numel() for p in model.net.parameters() if p.requires_grad))
        # DeepXDE's PyTorch backend makes CUDA its default device when torch sees one
        devices = [torch.cuda.get_device_name(0)] if torch.cuda.is_available() else ["cpu"]
        threads = torch.get_num_threads()
    return {
        "name": f"deepxde_{name}",
        "problem": name,
        "source": EXAMPLES[name]["source"],
        "backend": backend,
        "config": {**config, "phases": [{k: v for k, v in r.items() if k not in
                                         ("iterations", "train_s", "cpu_s", "ms_per_step", "final_train_loss",
                                                       "final_test_metrics")}
                                        for r in records],
                   "float": dde.config.default_float(), "seed": seed, "steps_scale": steps_scale,
                   "smoke": smoke, "backend": backend},
        "seed": seed,
        "steps": steps,
        "smoke": smoke,
        "steps_scale": steps_scale,
        "n_params": n_params,
        "phases": records,
        "train_s": train_s,
        "wall_s": t_end - t_start,
        "ms_per_step": train_s / max(steps, 1) * 1e3,
        "ms_per_step_steady": steady,
        "train_cpu_s": cpu_s,
        "final_train_loss": records[-1]["final_train_loss"],
        "versions": versions,
        "devices": devices,
        "threads": threads,
        "machine": machine_info(),
        "load_average_worker_start": load_start,
    }


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def device_of(run: dict) -> str:
    """Where a run trained: a record's ``devices`` or a suite row's ``device`` ("cpu" if none)."""
    return run.get("device") or ", ".join(run.get("devices") or ["cpu"])


def run_key(run: dict) -> tuple:
    """What makes two runs the same measurement: problem, seed, length (smoke, steps scale) and
    device (a CPU and a GPU figure of one example are kept side by side)."""
    return run["problem"], run["seed"], bool(run.get("smoke")), run.get("steps_scale", 1.0), device_of(run)


def save(figures: dict, out: str | pathlib.Path = RESULTS / "deepxde_suite.json") -> list[dict]:
    """Merge one run's figures into ``out`` (``{"runs": [...]}``), replacing an earlier run of
    the same problem, seed, length and device (``run_key``); returns every run."""
    out = pathlib.Path(out)
    runs = json.loads(out.read_text())["runs"] if out.exists() else []
    runs = [r for r in runs if run_key(r) != run_key(figures)] + [figures]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"runs": runs}, indent=1) + "\n")
    return runs


def summary(f: dict) -> str:
    derived = "".join(f", |{k}| {v:.3e}" for k, v in (f.get("rel_l2_derived") or {}).items())
    fields = ", ".join(f"{k} {v:.3e}" for k, v in f["rel_l2_by_field"].items()) if len(f["rel_l2_by_field"]) > 1 else ""
    phases = " + ".join(f"{p['iterations']} {p['optimizer']}" for p in f["phases"])
    return (f"{f['problem']:15s} DeepXDE {f['versions']['deepxde']} ({f['backend']}), seed {f['seed']}, "
            f"{phases}{' [smoke]' if f.get('smoke') else ''}: rel_l2 {f['rel_l2']:.3e}"
            + (f" ({fields})" if fields else "") + derived
            + f", train {f['train_s']:.1f} s, wall {f['wall_s']:.1f} s, {f['ms_per_step']:.2f} ms/step")


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help=f"comma-separated problems (default: {','.join(SUITE_EXAMPLES)}; "
                        f"known: {','.join(EXAMPLES)})")
    parser.add_argument("--seed", type=int, nargs="+", default=[0], help="one or more seeds")
    parser.add_argument("--steps-scale", type=float, default=1.0,
                        help="multiply every phase's iterations (Adam steps, L-BFGS maxiter)")
    parser.add_argument("--smoke", action="store_true",
                        help=f"at most {SMOKE_CAPS['adam']} Adam and {SMOKE_CAPS['L-BFGS']} L-BFGS iterations "
                             "per phase: checks the plumbing and scoring only")
    parser.add_argument("--python", default=DEFAULT_PYTHON, help="benchmark venv interpreter")
    parser.add_argument("--out", default=str(RESULTS / "deepxde_suite.json"))
    parser.add_argument("--export", metavar="DIR",
                        help="write each problem's scoring points to DIR and print the worker commands that "
                             "train there (another machine, e.g. a GPU, with DeepXDE and its backend only)")
    parser.add_argument("--collect", metavar="DIR",
                        help="score the workers run from --export DIR (DIR/<problem>.log, .pred.npz, .wall) "
                             "and merge them into --out")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--points", help=argparse.SUPPRESS)
    parser.add_argument("--predictions", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:  # inside the venv: train, predict, hand the figures back on stdout
        figures = _train(args.worker, args.seed[0], args.steps_scale, args.smoke, args.points, args.predictions)
        print(MARKER + json.dumps(figures), flush=True)
        return None
    names = args.only.split(",") if args.only else SUITE_EXAMPLES
    if args.export:
        directory = pathlib.Path(args.export)
        directory.mkdir(parents=True, exist_ok=True)
        for name in names:
            export_points(name, directory / f"{name}.points.npz")
            cmd = worker_command(name, args.seed[0], directory / f"{name}.points.npz", f"$OUT/{name}.pred.npz",
                                 python=args.python, steps_scale=args.steps_scale, smoke=args.smoke)
            cmd[1] = str(pathlib.Path(__file__).resolve().relative_to(ROOT))
            cmd[cmd.index("--points") + 1] = str((directory / f"{name}.points.npz").resolve().relative_to(ROOT))
            print(f"DDE_BACKEND={EXAMPLES[name]['backend']} " + " ".join(cmd) + f" > $OUT/{name}.log")
        return None
    if args.collect:
        runs = []
        for name in names:
            figures = collect_exported(name, args.collect)
            print(summary(figures), flush=True)
            runs = save(figures, args.out)
        print(f"wrote {args.out}")
        return {"runs": runs}
    if args.smoke and args.out == parser.get_default("out"):  # no smoke run among the figures
        args.out = str(RESULTS / "deepxde_suite_smoke.json")
    runs: list[dict] = []
    for seed in args.seed:
        for name in names:  # one training at a time
            figures = run_deepxde(name, seed, steps_scale=args.steps_scale, smoke=args.smoke, python=args.python)
            print(summary(figures), flush=True)
            runs = save(figures, args.out)
    print(f"wrote {args.out}")
    return {"runs": runs}


if __name__ == "__main__":
    main()
