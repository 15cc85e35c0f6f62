"""Dynamical systems: ODE problems, neural ODEs, universal differential equations, liquid networks.

* :mod:`~sciml.dynamics.problem`: :class:`ODEProblem` with known terms, :func:`Unknown`
  learned terms, parameters, invariants, symmetries and xarray observations;
* :mod:`~sciml.dynamics.node`: neural ODE / UDE vector fields integrated with diffrax;
* :mod:`~sciml.dynamics.training`: trajectory fitting (curriculum, multiple shooting);
* :mod:`~sciml.dynamics.solve`: training, evaluation, and laws for the unknown terms
  (``symbolify``, by :mod:`sciml.symbolic.unknowns`);
* :mod:`~sciml.dynamics.liquid`: LTC and CfC cells, NCP wiring, sequence models;
* :mod:`~sciml.dynamics.hamiltonian`: Hamiltonian fields and symplectic integration;
* :mod:`~sciml.dynamics.physics`: invariant drift and known-term residuals;
* :mod:`~sciml.dynamics.io`: save / load of trained models.
"""

from sciml.dynamics.problem import CompiledODE, ODEProblem, Reflection, TimeReversal, Unknown

__all__ = ["ODEProblem", "Unknown", "TimeReversal", "Reflection", "CompiledODE"]
