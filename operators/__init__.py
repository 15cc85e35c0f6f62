"""Reusable physics operators written with the sciml DSL (imported as ``sciml.operators``)."""

from sciml.operators.calculus import divergence, gradient, laplacian
from sciml.operators.transport import advection, advection_diffusion, burgers, diffusion

__all__ = ["advection", "advection_diffusion", "burgers", "diffusion", "divergence", "gradient", "laplacian"]
