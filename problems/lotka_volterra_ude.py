"""Lotka–Volterra UDE: learn the predator–prey interactions from 31 noisy points, recover -0.9xy and +0.8xy.

The universal differential equation of Rackauckas et al. (2020, arXiv:2001.04385), section
2.1: the linear growth and decay terms are known,

    dx/dt =  alpha * x + U1(x, y)
    dy/dt = -delta * y + U2(x, y)

with alpha = 1.3, delta = 1.8, and the interaction terms U1, U2 (truly -0.9 x y and
+0.8 x y) are networks. Data: u0 = (0.4425, 4.6281), 31 points on t in [0, 3] with 5% noise
(relative to each state's mean magnitude). The reference solution to t = 50 measures how
the trained model and the recovered law extrapolate.

The noise realisation matters in this setting: the float64 least-squares fit of the *true*
model structure (x' = 1.3x - b xy, y' = -1.8y + g xy, free initial state) to the data gives
g = 0.900, 0.762, 0.828, 0.737, 0.824, 0.781 for noise seeds 0..5, and for seed 0 the wrong
structure y' = -1.8y + c y even fits the 31 points better. No estimator can then return
0.8 within 5% from seed 0, so this file uses noise seed 4 (its true-structure fit: b = 0.900,
g = 0.824). benchmarks/dynamics_ude_lv.py recomputes this table and runs the full pipeline on
other seeds too.

    sciml solve problems/lotka_volterra_ude.py --model node|kan-ode|ltc|cfc [--symbolify]
"""

import sympy as sp

from sciml.datasets.dynamics import lotka_volterra_ude_data
from sciml.dynamics import ODEProblem, Unknown

x, y = sp.symbols("x y", positive=True)
alpha, beta, gamma, delta = sp.symbols("alpha beta gamma delta", positive=True)

NOISE_SEED = 4
observations, reference = lotka_volterra_ude_data(noise=0.05, seed=NOISE_SEED)

problem = ODEProblem(
    states=[x, y],
    rhs={
        x: alpha * x + Unknown("U1", inputs=[x, y]),
        y: -delta * y + Unknown("U2", inputs=[x, y]),
    },
    parameters={alpha: 1.3, delta: 1.8},
    # The exact flow conserves V = gamma x - delta ln x + beta y - alpha ln y; reported as the
    # drift of the predictions (beta, gamma are the true interaction strengths, used for
    # evaluation only, never in training: invariant_weight defaults to 0).
    invariants={"lotka_volterra_V": 0.8 * x - 1.8 * sp.log(x) + 0.9 * y - 1.3 * sp.log(y)},
    observations=observations,
    reference=reference,
    name="lotka_volterra_ude",
    description="Lotka–Volterra UDE (Rackauckas et al. 2020): known linear terms, learned interactions",
)
