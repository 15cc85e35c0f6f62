"""Loss-term weighting policies (fixed, gradient-norm balancing) and causal weights in time."""

from sciml.losses.causal import causal_reduction, causal_weights
from sciml.losses.weighting import FixedWeights, GradNormBalancing, WeightPolicy, make_policy

__all__ = ["FixedWeights", "GradNormBalancing", "WeightPolicy", "causal_reduction", "causal_weights",
           "make_policy"]
