"""Callbacks that change the surrogate at scheduled training steps.

The trainer calls them without knowing what kind of model they act on; the models package
owns each one (KAN grid extension: :class:`sciml.models.kan_grid.GridExtension`).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import jax
from flax import nnx


@runtime_checkable
class ModelCallback(Protocol):
    """Replaces the surrogate at given Adam steps, possibly with new parameter shapes.

    Attributes:
        steps: the Adam steps at which it acts; the trainer ends its compiled chunks there
            (step 0 is never called: the model as built is the model at step 0).

    After a call the trainer restarts Adam's moments on the new parameters (its step count,
    and so the learning-rate schedule, carries on) and the quasi-Newton state. On resume it
    replays the calls up to the checkpoint's step before loading the saved values, so the
    shapes a call produces must depend only on the step, not on the inputs.
    """

    steps: tuple[int, ...]

    def __call__(self, model: nnx.Module, step: int, inputs: jax.Array) -> nnx.Module:
        """The surrogate from ``step`` on, given the current one and its inputs at the
        current collocation points ``(n, in_features)``."""
        ...
