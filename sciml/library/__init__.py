"""Discovered primitives: a library of activation shapes harvested from trained KANs.

The flow (one concept per module):

- :mod:`~sciml.library.primitive`: one primitive's portable form (a Chebyshev series on
  ``[-1, 1]``, continued linearly), its optional exact symbolic form, provenance, cost and
  Lipschitz bound;
- :mod:`~sciml.library.harvest`: every active edge of a trained KAN as a primitive;
- :mod:`~sciml.library.dedup`: clusters up to affine maps, named after the symbolic stage's
  primitives where one matches;
- :mod:`~sciml.library.collection` and :mod:`~sciml.library.store`: the named library and its
  versioned JSON file (validated on load, nothing executed);
- :mod:`~sciml.library.gates`: the gated mixture activation of the hybrid networks, its
  temperature annealing and hardening;
- :mod:`~sciml.library.hybrid`: ``mlp-lib`` and ``cfc-lib`` in the one model registry;
- :mod:`~sciml.library.hunger`: whether a task needs a primitive the library lacks, and the
  KAN discovery that feeds it;
- :mod:`~sciml.library.pade`: the learnable rational activation (PAU) the library is compared with;
- :mod:`~sciml.library.family`: ten planar vector fields, five to discover primitives on, five
  held out to reuse them.
"""

from sciml.library.collection import STANDARD_MEMBERS, PrimitiveLibrary, standard_library
from sciml.library.dedup import affine_distance, affine_r2, deduplicate, name_primitive
from sciml.library.harvest import harvest
from sciml.library.primitive import (ExactForm, PortablePrimitive, Provenance, chebyshev_fit, from_samples,
                                     from_symbolic)
from sciml.library.store import LibraryFileError, library_dir, library_path, load_library, save_library

__all__ = ["STANDARD_MEMBERS", "ExactForm", "LibraryFileError", "PortablePrimitive", "PrimitiveLibrary",
           "Provenance", "affine_distance", "affine_r2", "chebyshev_fit", "deduplicate", "from_samples",
           "from_symbolic", "harvest", "library_dir", "library_path", "load_library", "name_primitive",
           "save_library", "standard_library"]
