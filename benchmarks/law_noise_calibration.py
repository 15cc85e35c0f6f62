"""Does the noise rule of ``sciml discover`` leave true laws alone?

``discover`` calls a law doubtful when its held-out mean squared error, less two standard
errors, exceeds ``ABOVE_NOISE`` times the noise variance a Gaussian process finds in the
training rows (:mod:`sciml.symbolic.noise`). Here the formula is the true law itself, on
synthetic tables (seven functions of 1 to 6 inputs, relative noise 1% and 10%, 100 / 400 / 2000
rows, a 3:1 split as ``discover`` makes): the statistic must stay below the threshold, and
the ratio of the true noise variance to the estimate says how well the process measures it.

    python benchmarks/law_noise_calibration.py     # writes results/law_noise_calibration.json
"""

from __future__ import annotations

import json
import os
import pathlib
import time

import numpy as np

from sciml.symbolic.noise import ABOVE_NOISE, noise_reference

RESULTS = pathlib.Path(__file__).parent / "results"

FUNCTIONS = {
    "sin(3a)": (1, lambda X: np.sin(3 * X[:, 0])),
    "exp(a) b": (2, lambda X: np.exp(X[:, 0]) * X[:, 1]),
    "a b / (c^2 + 1/2)": (3, lambda X: X[:, 0] * X[:, 1] / (X[:, 2] ** 2 + 0.5)),
    "tanh(a b) + c^2 cos(d)": (4, lambda X: np.tanh(X[:, 0] * X[:, 1]) + X[:, 2] ** 2 * np.cos(X[:, 3])),
    "a b c / (d + 2) + sin(e)": (5, lambda X: X[:, 0] * X[:, 1] * X[:, 2] / (X[:, 3] + 2) + np.sin(X[:, 4])),
    "a b + c d + e f": (6, lambda X: X[:, 0] * X[:, 1] + X[:, 2] * X[:, 3] + X[:, 4] * X[:, 5]),
    "a b / c^2": (3, lambda X: X[:, 0] * X[:, 1] / X[:, 2] ** 2),
}


def main() -> None:
    rng = np.random.default_rng(1)
    rows = []
    for n in (100, 400, 2000):
        for name, (d, f) in FUNCTIONS.items():
            for noise in (0.01, 0.1):
                X = rng.uniform(1, 3, (n, d))
                clean = f(X)
                y = clean * (1 + noise * rng.standard_normal(n))
                order = rng.permutation(n)
                train, test = order[: int(0.75 * n)], order[int(0.75 * n):]
                start = time.perf_counter()
                reference = noise_reference(X[train], y[train])
                squared = (clean[test] - y[test]) ** 2
                margin = squared.mean() - 2 * squared.std() / np.sqrt(len(squared))
                row = {"rows": n, "function": name, "relative_noise": noise,
                       "statistic": float(margin / reference.noise_variance),
                       "true_over_estimated_noise": float(np.mean((noise * clean[train]) ** 2) / reference.noise_variance),
                       "seconds": time.perf_counter() - start}
                rows.append(row)
                print(f"{n:5d}  {name:26s} {noise:5.2f}  statistic {row['statistic']:6.3f}  "
                      f"true/estimated noise {row['true_over_estimated_noise']:6.3f}  {row['seconds']:.1f} s", flush=True)
    worst = max(r["statistic"] for r in rows)
    summary = {"threshold": ABOVE_NOISE, "worst_statistic_of_a_true_law": worst, "false_doubts": sum(
        r["statistic"] > ABOVE_NOISE for r in rows), "runs": len(rows), "load_average": os.getloadavg(), "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "law_noise_calibration.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"worst statistic of a true law {worst:.3f} (threshold {ABOVE_NOISE}); "
          f"false doubts {summary['false_doubts']} of {len(rows)}")


if __name__ == "__main__":
    main()
