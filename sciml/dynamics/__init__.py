"""Dynamical systems: neural ODEs, universal differential equations, liquid networks.

ODE problems are written in the DSL (:mod:`sciml.dsl`: ``Field("x", t)`` on a
``TimeInterval``, equations ``x.diff(t) - (...)``, ``Unknown`` terms); the trajectory models
here (``--model node|kan-ode|ltc|cfc``) read them as explicit first-order systems:

* :mod:`~sciml.dynamics.problem`: :func:`ode_system`, a DSL problem as an :class:`ODESystem`;
* :mod:`~sciml.dynamics.models`: the trajectory models of the one registry;
* :mod:`~sciml.dynamics.node`: neural ODE / UDE vector fields integrated with diffrax;
* :mod:`~sciml.dynamics.training`: trajectory fitting (curriculum, multiple shooting);
* :mod:`~sciml.dynamics.solve`: training, evaluation, and laws for the unknown terms
  (``symbolify``, by :mod:`sciml.symbolic.unknowns`);
* :mod:`~sciml.dynamics.liquid`: LTC and CfC cells, NCP wiring, sequence models;
* :mod:`~sciml.dynamics.hamiltonian`: Hamiltonian fields and symplectic integration;
* :mod:`~sciml.dynamics.io`: save / load of trained models.
"""

from sciml.dynamics.problem import CompiledODE, ODESystem, is_ode, ode_system

__all__ = ["CompiledODE", "ODESystem", "is_ode", "ode_system"]
