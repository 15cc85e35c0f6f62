"""A named, ordered collection of library primitives, and the built-in one.

:class:`PrimitiveLibrary` is what the hybrid networks choose their nonlinearities from and what
a library file holds (:mod:`sciml.library.store`). Its members also extend the symbolic stage:
:meth:`PrimitiveLibrary.symbolic_primitives` gives them as
:class:`sciml.symbolic.primitives.Primitive` objects (the new ones as undefined sympy
functions named after them), so per-edge fits and suggestions can choose a discovered shape.
"""

from __future__ import annotations

import math
from typing import Iterable, Iterator

import sympy as sp

from sciml.library.primitive import PortablePrimitive, from_symbolic

__all__ = ["MAX_ACTIVATIONS", "MAX_ROUGHNESS", "STANDARD_MEMBERS", "PrimitiveLibrary", "as_activations", "standard_library"]

STANDARD_MEMBERS = ("tanh", "sin", "gaussian", "x^2")
"""The members of the built-in library ``"standard"``: symbolic primitives as activations."""

# A discovered primitive enters a formula as one named function: about the cost of tanh.
_DISCOVERED_COMPLEXITY = 3


class PrimitiveLibrary:
    """Ordered, name-indexed :class:`~sciml.library.primitive.PortablePrimitive` members.

    Args:
        name: the library's name (what ``--model mlp-lib`` options and file names use).
        members: the primitives, with distinct names.
    """

    def __init__(self, name: str, members: Iterable[PortablePrimitive] = ()):
        self.name = str(name)
        self._members: dict[str, PortablePrimitive] = {}
        for member in members:
            self.add(member)

    def add(self, member: PortablePrimitive) -> "PrimitiveLibrary":
        """Add ``member``; its name must be new to the library."""
        if not isinstance(member, PortablePrimitive):
            raise TypeError(f"a library holds PortablePrimitive members, got {type(member).__name__}")
        if member.name in self._members:
            raise ValueError(f"library {self.name!r} already has a member {member.name!r}; rename one "
                             "(PortablePrimitive.with_name)")
        self._members[member.name] = member
        return self

    def subset(self, names: Iterable[str]) -> "PrimitiveLibrary":
        """The members named ``names`` (in that order), as a library of the same name."""
        return PrimitiveLibrary(self.name, (self[n] for n in names))

    def __getitem__(self, name: str) -> PortablePrimitive:
        try:
            return self._members[name]
        except KeyError:
            raise KeyError(f"library {self.name!r} has no member {name!r}; it has {self.names}") from None

    def __iter__(self) -> Iterator[PortablePrimitive]:
        return iter(self._members.values())

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, name) -> bool:
        return name in self._members

    def __eq__(self, other) -> bool:
        return isinstance(other, PrimitiveLibrary) and (self.name, list(self)) == (other.name, list(other))

    def __hash__(self) -> int:
        return hash((self.name, tuple(self)))

    @property
    def names(self) -> list[str]:
        return list(self._members)

    def symbolic_primitives(self):
        """The members as :class:`sciml.symbolic.primitives.Primitive` objects.

        A member with an exact form keeps it (``c f(a z + b) + d`` in sympy); a new one becomes
        ``Function(name)(z)``, evaluated by its portable form.
        """
        from sciml.symbolic.primitives import DEFAULT_LIBRARY, Primitive, edge_formula

        out = []
        for member in self:
            if member.exact is not None:
                known = DEFAULT_LIBRARY[member.exact.primitive]
                sympy_fn = (lambda z, k=known, p=member.exact.affine: edge_formula(k, p, z))
                out.append(Primitive(member.name, member, sympy_fn, known.complexity))
            else:
                out.append(Primitive(member.name, member, sp.Function(member.name), _DISCOVERED_COMPLEXITY))
        return out

    def register(self) -> list[str]:
        """Make the discovered members (those without an exact form) primitives of the symbolic
        stage for this process: every later ``discover``, ``--symbolify`` and KAN-edge fit may
        name a law with them, and laws naming them evaluate through their portable forms.
        Returns the names added. Registering the same library twice adds nothing.

        Raises:
            ValueError: a member's name is taken by a different primitive (rename the member).
        """
        from sciml.functions import NUMERIC_FUNCTIONS
        from sciml.symbolic.primitives import DEFAULT_LIBRARY, register_primitive

        added = []
        for primitive in self.symbolic_primitives():
            member = self[primitive.name]
            if member.exact is not None:
                continue  # its shape is a known primitive already
            if primitive.name in DEFAULT_LIBRARY.names:
                if NUMERIC_FUNCTIONS.get(primitive.name) == member:
                    continue
                raise ValueError(f"library {self.name!r}: a primitive named {primitive.name!r} is already known to "
                                 "the symbolic stage; rename the member before registering")
            register_primitive(primitive.name, member, primitive.sympy_fn, primitive.complexity, numeric=member)
            added.append(primitive.name)
        return added

    def __repr__(self) -> str:
        return f"PrimitiveLibrary({self.name!r}, {self.names})"


def standard_library() -> PrimitiveLibrary:
    """The built-in library ``"standard"``: :data:`STANDARD_MEMBERS` in their exact forms."""
    return PrimitiveLibrary("standard", (from_symbolic(n) for n in STANDARD_MEMBERS))


# Symbolic primitives finite on the whole real line: their exact forms stay usable as
# activations beyond the harvested interval. The others (1/x, log, sqrt, ...) have a pole or an
# edge of their domain just outside it, where a pre-activation would blow up.
_ENTIRE = {"sin", "cos", "tanh", "gaussian", "exp", "x^2", "x^3", "x^4", "x^5", "abs"}


MAX_ROUGHNESS = 2 * math.pi
"""Members wigglier than ``sin(2 pi t)`` (one full period per unit of input; see
:meth:`~sciml.library.primitive.PortablePrimitive.roughness`) are no activations: on the
discovery family of :mod:`sciml.library.family` such shapes are fits of what an additive KAN
cannot express (Lotka-Volterra's product)."""

MAX_ACTIVATIONS = 8
"""At most this many members are kept as activations: a soft mixture evaluates every member, so
its cost grows with their number, and a KAN with hidden layers yields dozens of distinct shapes
(the reaction-diffusion family's field KANs: 23 from one problem). Built-in members (no
provenance) come first, then the discovered ones harvested from the most edges."""


def as_activations(library: PrimitiveLibrary, name: str | None = None, *, unit_slope: bool = True,
                   max_roughness: float | None = MAX_ROUGHNESS,
                   max_members: int | None = MAX_ACTIVATIONS) -> PrimitiveLibrary:
    """``library`` made safe to use as activations (what the hybrid networks do to the library
    they are given): linear members dropped (they add no nonlinearity), and members whose
    exact form is not finite on the real line evaluated by their portable Chebyshev form
    (continued linearly) instead. With ``unit_slope`` each member is also divided by its RMS
    slope over ``[-1, 1]``: harvested shapes come normalised to unit spread, which makes the
    wiggly ones steep (slopes of 10-100), and a layer of them multiplies the signal and its
    gradients by that much. Members rougher than ``max_roughness``
    (:meth:`~sciml.library.primitive.PortablePrimitive.roughness`) are dropped, and of the rest at
    most ``max_members`` are kept (:data:`MAX_ACTIVATIONS`: built-in members, then the most
    supported discovered ones, in library order). Applying it twice changes nothing more.

    Raises:
        ValueError: no member is left to use as an activation.
    """
    members = []
    for member in library:
        if member.exact is not None and member.exact.primitive in ("x", "0"):
            continue
        if max_roughness is not None and member.roughness() > max_roughness:
            continue
        if member.exact is not None and member.exact.primitive not in _ENTIRE:
            member = member.with_name(member.name, None)
        slope = member.rms_slope()
        if unit_slope and abs(slope - 1.0) > 1e-5:  # at unit slope already (to float32 evaluation): as it is
            member = member.scaled(1.0 / slope)
        members.append(member)
    if max_members is not None and len(members) > int(max_members):
        support = {m.name: len(m.provenance) if m.provenance else math.inf for m in members}
        kept = set(sorted(support, key=lambda n: -support[n])[: int(max_members)])  # stable: library order on ties
        members = [m for m in members if m.name in kept]
    if not members:
        raise ValueError(f"library {library.name!r} has no member usable as an activation (linear ones and ones "
                         f"rougher than {max_roughness} are dropped); add nonlinear members or use 'standard'")
    return PrimitiveLibrary(name or library.name, members)
