"""The problem DSL: write coordinates, fields, equations, conditions, symmetries and data in
plain Python (sympy underneath); :func:`compile_problem` turns them into JAX functions."""

from sympy import Eq, cos, diff, exp, log, pi, sin, sqrt, tanh

from sciml.dsl.conditions import Condition, Dirichlet, Initial, Neumann, Periodic, Robin
from sciml.dsl.domains import Box, BoundaryPiece, Disk, Domain, Interval, ProductDomain, Rectangle, TimeInterval
from sciml.dsl.errors import ProblemError
from sciml.dsl.problem import Problem, observation_points
from sciml.dsl.symbols import Coordinate, Field, Parameter
from sciml.dsl.symmetries import Conserved, Reflection, Symmetry, Translation

__all__ = [
    "Box", "BoundaryPiece", "Condition", "Conserved", "Coordinate", "Dirichlet", "Disk", "Domain",
    "Eq", "Field", "Initial", "Interval", "Neumann", "Parameter", "Periodic", "Problem",
    "ProblemError", "ProductDomain", "Rectangle", "Reflection", "Robin", "Symmetry",
    "TimeInterval", "Translation", "cos", "diff", "exp", "log", "observation_points", "pi",
    "sin", "sqrt", "tanh",
]
