r"""Classical checks of problems in the plane by finite elements: a steady elliptic problem and
an evolution.

A forward ODE problem is integrated classically, an evolution PDE on an interval solved by the
method of lines (:mod:`sciml.method_of_lines`), a steady problem on an interval by a two-point
boundary-value solve (:mod:`sciml.boundary_value`); this module gives problems in two space
dimensions, on a rectangle, a polygon or a disk, the same check.

**Steady** (:func:`finite_element_distance`): one field ``u`` obeying one second-order elliptic
equation

.. math:: \sum_{ij} A_{ij}(z, u)\, \partial_i \partial_j u + g(z, u, \nabla u) = 0

(Poisson, Helmholtz, advection–diffusion, a reaction, a conductivity that depends on ``u``:
anything linear in the second derivatives with a definite matrix ``A``), every part of the
boundary under one condition — a value (Dirichlet) or, where ``A`` is ``a I``, a flux: Neumann,
Robin or any :class:`~sciml.dsl.conditions.BoundaryEquation` solvable for ``∂u/∂n`` (a radiating
edge) — and nothing learned. The equation is integrated by parts against each test function,

.. math:: -\int (A \nabla u) \cdot \nabla v + \int \big(g - (\nabla \cdot A)\, \nabla u\big) v
          + \oint a\, \partial_n u\, v = 0,

the flux term taking ``∂u/∂n`` from the edge's condition, and solved with quadratic (P2)
Lagrange elements by scikit-fem (Gustafsson & McBain 2020; a disk's rim of curved, isoparametric
edges): Newton's method from the surrogate, so of several solutions of a nonlinear problem it
converges to the one the surrogate is near. The mesh is halved until two solutions agree within
:data:`ACCURACY` at the comparison points (their distance estimates the coarser one's error; a
re-entrant corner's singular solution is met by grading the mesh towards the corner, as
Babuška's meshes do).

**Evolution** (:func:`evolution_distance`): fields with ``u_t = F`` or ``u_tt = F`` (a forward
evolution, :func:`sciml.time_scales.evolution`), ``F = Σ A_ij u_ij + b·∇u + r`` with ``A``
positive definite and ``A``, ``b`` depending on position only, ``r`` on anything but derivatives
(heat, waves, reaction–diffusion systems: Fisher, Gray–Scott, predator and prey), each spreading
field's edges under a value or a flux as above: the method of lines on linear elements.

Periodic sides of a rectangle (:class:`~sciml.dsl.conditions.Periodic`) are one set of nodes.
A problem outside this scope — a steady system of fields, a domain with a curved hole, a
condition of another kind — gets no check: ``({}, None)``.

Reference: Gustafsson, McBain (2020), "scikit-fem: A Python package for finite element assembly",
JOSS 5(52), 2369.
"""

from sciml.finite_elements.evolution import Evolved, evolution_distance, evolution_reference, evolution_solution
from sciml.finite_elements.meshes import ACCURACY, p2_values
from sciml.finite_elements.steady import POINTS, finite_element_distance

__all__ = ["ACCURACY", "POINTS", "Evolved", "evolution_distance", "evolution_reference", "evolution_solution",
           "finite_element_distance", "p2_values"]
