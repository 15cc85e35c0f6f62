"""The problem DSL: write coordinates, fields, equations, conditions, symmetries and data in
plain Python (sympy underneath); :func:`compile_problem` turns them into JAX functions."""

from sympy import Eq, cos, cosh, diff, exp, log, pi, sech, sin, sinh, sqrt, tanh

from sciml.dsl.conditions import (
    BoundaryEquation,
    Condition,
    Dirichlet,
    Initial,
    MeanValue,
    Neumann,
    Periodic,
    Pin,
    Robin,
)
from sciml.dsl.domains import (
    BoundaryPiece,
    Box,
    Difference,
    Disk,
    Domain,
    Interval,
    Polygon,
    ProductDomain,
    Rectangle,
    TimeInterval,
)
from sciml.dsl.corner_flow import StokesCorner
from sciml.dsl.diffusion_front import DiffusionFront
from sciml.dsl.errors import ProblemError
from sciml.dsl.metrics import relative_l2_up_to_constant
from sciml.dsl.point_source import PointSource
from sciml.dsl.problem import Problem, observation_points
from sciml.dsl.symbols import Coordinate, Field, Normal, Parameter
from sciml.dsl.symmetries import Conserved, DivergenceFree, Reflection, Symmetry, Translation
from sciml.dsl.unknowns import Unknown

__all__ = [
    "BoundaryEquation",
    "BoundaryPiece",
    "Box",
    "Condition",
    "Conserved",
    "Coordinate",
    "Difference",
    "DiffusionFront",
    "Dirichlet",
    "Disk",
    "DivergenceFree",
    "Domain",
    "Eq",
    "Field",
    "Initial",
    "Interval",
    "MeanValue",
    "Neumann",
    "Normal",
    "Parameter",
    "Periodic",
    "Pin",
    "PointSource",
    "Polygon",
    "Problem",
    "ProblemError",
    "ProductDomain",
    "Rectangle",
    "Reflection",
    "Robin",
    "StokesCorner",
    "Symmetry",
    "TimeInterval",
    "Translation",
    "Unknown",
    "cos",
    "cosh",
    "diff",
    "exp",
    "log",
    "observation_points",
    "pi",
    "relative_l2_up_to_constant",
    "sech",
    "sin",
    "sinh",
    "sqrt",
    "tanh",
]
