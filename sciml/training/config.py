"""Training configuration: everything the trainer needs that is not physics."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class TrainConfig:
    """Settings of a physics-informed training run.

    Attributes:
        steps: Adam steps.
        lbfgs_steps: L-BFGS iterations after Adam (0 to skip), on a fixed batch.
        lbfgs_memory: curvature pairs L-BFGS keeps (optax's default is 10).
        learning_rate: initial Adam learning rate.
        final_learning_rate: Adam's learning rate decays exponentially to this value.
        points: collocation points per set: ``interior``, ``boundary`` (per condition),
            ``times`` (for conserved quantities).
        sampling: ``"uniform"`` or ``"sobol"``.
        resample_every: draw fresh collocation points every this many steps (0: never).
        rar_every, rar_candidates, rar_add: residual-based adaptive refinement (Lu et al. 2021,
            DeepXDE): every ``rar_every`` steps, evaluate the residual at ``rar_candidates``
            random points and add the ``rar_add`` worst to the collocation set (0: off).
        weighting: ``"fixed"`` or ``"gradnorm"`` (see :mod:`sciml.losses.weighting`).
        weights: per-term weight overrides, by term name.
        chunk: steps per compiled chunk; losses are checked for NaN/Inf and the progress bar
            is refreshed once per chunk (every step inside is still recorded).
        checkpoint_every: steps between checkpoints (0: only at the end), when a checkpoint
            path is given.
        precision: ``"float32"`` or ``"float64"``.
        grid_schedule: for KAN surrogates, ``[[step, G], ...]``: at each step every layer's
            grid is moved to the range of its current inputs and extended to ``G`` by
            least-squares refits that preserve the learned function (Liu et al. 2024); Adam's
            moments restart on the new parameters while its step count (and so the
            learning-rate schedule) carries on.
        seed: seeds the network initialisation and every sampled batch.
        progress: show a progress bar with the loss terms.
    """

    steps: int = 5000
    lbfgs_steps: int = 0
    lbfgs_memory: int = 10
    learning_rate: float = 1e-3
    final_learning_rate: float | None = None
    points: dict[str, int] = field(default_factory=lambda: {"interior": 2000, "boundary": 200, "times": 32})
    sampling: str = "uniform"
    resample_every: int = 0
    rar_every: int = 0
    rar_candidates: int = 10000
    rar_add: int = 100
    weighting: str = "fixed"
    weights: dict[str, float] = field(default_factory=dict)
    chunk: int = 100
    checkpoint_every: int = 0
    precision: str = "float32"
    grid_schedule: list = field(default_factory=list)
    seed: int = 0
    progress: bool = True

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ValueError(f"unknown training options {unknown}; known: {sorted(known)}")
        cfg = cls(**options)
        if cfg.precision not in ("float32", "float64"):
            raise ValueError(f"precision must be 'float32' or 'float64', got {cfg.precision!r}")
        try:
            cfg.grid_schedule = sorted((int(s), int(g)) for s, g in cfg.grid_schedule)
        except (TypeError, ValueError):
            raise ValueError(f"grid_schedule must be [[step, G], ...], got {cfg.grid_schedule!r}") from None
        if cfg.steps < 0 or cfg.lbfgs_steps < 0:
            raise ValueError("steps and lbfgs_steps must be >= 0")
        if cfg.lbfgs_memory < 1:
            raise ValueError(f"lbfgs_memory must be >= 1, got {cfg.lbfgs_memory}")
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
