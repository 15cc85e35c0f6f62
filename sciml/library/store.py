"""Library files: a versioned JSON document of coefficients, names and provenance.

A library file holds data only. Loading validates every field against a whitelist (known keys,
types, finite numbers, bounded sizes, names of the symbolic stage's primitives for exact
forms) and builds :class:`~sciml.library.primitive.PortablePrimitive` objects from numbers:
nothing in a file is evaluated or imported. A file of another format version, or a malformed
one, is refused with :class:`LibraryFileError`, whose message names the problem and the fix.

Libraries are found by name in :func:`library_dir` (``$SCIML_LIBRARY_DIR``, default
``~/.sciml/library``) as ``NAME.json``, or by a path ending in ``.json``; ``"standard"`` is
built in (:func:`sciml.library.collection.standard_library`).

Format, version 1::

    {"format": "sciml.primitive-library", "version": 1, "name": "mine",
     "primitives": [{"name": "sin", "chebyshev": [...], "fit_r2": 0.99999,
                     "exact": {"primitive": "sin", "affine": [a, b, c, d]} | null,
                     "cost": 24.0, "lipschitz": 3.1,
                     "provenance": [{"problem": "burgers", "layer": 0, "input": 1, "output": 0,
                                     "r2": 0.99999, "x_range": [lo, hi], "y_mean": m, "y_scale": s}]}]}

``cost`` and ``lipschitz`` are written for readers and recomputed from the coefficients on load.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import re

from sciml.library.collection import PrimitiveLibrary, standard_library
from sciml.library.primitive import MAX_DEGREE, ExactForm, PortablePrimitive, Provenance

__all__ = ["FORMAT", "VERSION", "LibraryFileError", "library_dir", "library_path", "load_library",
           "save_library"]

FORMAT = "sciml.primitive-library"
VERSION = 1
_LIBRARY_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAX_MEMBERS = 4096
_MEMBER_KEYS = {"name", "chebyshev", "fit_r2", "exact", "cost", "lipschitz", "provenance"}
_PROVENANCE_KEYS = {"problem", "layer", "input", "output", "r2", "x_range", "y_mean", "y_scale"}


class LibraryFileError(ValueError):
    """A library file that sciml refuses to read (the message says what and how to fix it)."""


def library_dir() -> pathlib.Path:
    """Where libraries are saved and found by name: ``$SCIML_LIBRARY_DIR`` or ``~/.sciml/library``."""
    return pathlib.Path(os.environ.get("SCIML_LIBRARY_DIR") or pathlib.Path.home() / ".sciml" / "library")


def library_path(name_or_path: str | os.PathLike) -> pathlib.Path:
    """The file of a library: a path ending in ``.json`` as given, a name in :func:`library_dir`.

    Raises:
        ValueError: a name with characters other than letters, digits, ``_`` and ``-``.
    """
    text = os.fspath(name_or_path)
    if text.endswith(".json"):
        return pathlib.Path(text)
    if not _LIBRARY_NAME.match(text):
        raise ValueError(f"library name {text!r} must be 1-64 letters, digits, '_' or '-' (or give a path "
                         "ending in .json)")
    return library_dir() / f"{text}.json"


def save_library(library: PrimitiveLibrary, where: str | os.PathLike | None = None) -> pathlib.Path:
    """Write ``library`` to ``where`` (a path ending in ``.json`` or a name; default its own name)."""
    path = library_path(library.name if where is None else where)
    if not _LIBRARY_NAME.match(library.name):
        raise ValueError(f"library name {library.name!r} must be 1-64 letters, digits, '_' or '-'")
    document = {"format": FORMAT, "version": VERSION, "name": library.name,
                "primitives": [_member_json(m) for m in library]}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=1))
    tmp.replace(path)  # a reader never sees half a file
    return path


def load_library(name_or_path: str | os.PathLike | PrimitiveLibrary) -> PrimitiveLibrary:
    """The library ``"standard"``, or the one saved under a name or at a ``.json`` path.

    Raises:
        FileNotFoundError: no such library (the message says where it looked).
        LibraryFileError: the file is not a valid library file of this version.
    """
    if isinstance(name_or_path, PrimitiveLibrary):
        return name_or_path
    if os.fspath(name_or_path) == "standard":
        return standard_library()
    path = library_path(name_or_path)
    if not path.exists():
        raise FileNotFoundError(f"no primitive library {os.fspath(name_or_path)!r} at {path}; save one with "
                                "sciml.library.save_library, or name the built-in 'standard'")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise LibraryFileError(f"{path} is not JSON ({err}); a library file is written by "
                               "sciml.library.save_library") from None
    return _library_from_json(document, path)


# ------------------------------------------------------------------------- writing
def _member_json(member: PortablePrimitive) -> dict:
    exact = None if member.exact is None else {"primitive": member.exact.primitive,
                                               "affine": list(member.exact.affine)}
    return {"name": member.name, "chebyshev": list(member.coefficients), "fit_r2": member.fit_r2,
            "exact": exact, "cost": member.cost, "lipschitz": member.lipschitz,
            "provenance": [p.to_json() for p in member.provenance]}


# ------------------------------------------------------------------------- reading
def _library_from_json(document, path) -> PrimitiveLibrary:
    where = str(path)
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise LibraryFileError(f"{where} is not a primitive library (its 'format' is not {FORMAT!r}); "
                               "write library files with sciml.library.save_library")
    version = document.get("version")
    if version != VERSION:
        raise LibraryFileError(f"{where} is a version {version!r} library file; this sciml reads version "
                               f"{VERSION}: use the sciml that wrote it, or harvest the library again "
                               "(sciml.library.harvest) and save it with this one")
    _keys(document, {"format", "version", "name", "primitives"}, where)
    name = document.get("name")
    if not isinstance(name, str) or not _LIBRARY_NAME.match(name):
        raise LibraryFileError(f"{where}: 'name' must be 1-64 letters, digits, '_' or '-', got {name!r}")
    members = document.get("primitives")
    if not isinstance(members, list) or len(members) > _MAX_MEMBERS:
        raise LibraryFileError(f"{where}: 'primitives' must be a list of at most {_MAX_MEMBERS} members")
    library = PrimitiveLibrary(name)
    for k, entry in enumerate(members):
        context = f"{where}: primitive {k}"
        try:
            library.add(_member_from_json(entry, context))
        except (TypeError, ValueError, KeyError) as err:
            if isinstance(err, LibraryFileError):
                raise
            raise LibraryFileError(f"{context}: {err}; fix that entry or harvest the library again") from None
    return library


def _member_from_json(entry, context: str) -> PortablePrimitive:
    if not isinstance(entry, dict):
        raise LibraryFileError(f"{context} must be a JSON object")
    _keys(entry, _MEMBER_KEYS, context)
    coefficients = entry.get("chebyshev")
    if not isinstance(coefficients, list) or not 1 <= len(coefficients) <= MAX_DEGREE + 1:
        raise LibraryFileError(f"{context}: 'chebyshev' must be a list of 1 to {MAX_DEGREE + 1} numbers")
    exact = entry.get("exact")
    if exact is not None:
        exact = _exact_from_json(exact, context)
    provenance = entry.get("provenance", [])
    if not isinstance(provenance, list):
        raise LibraryFileError(f"{context}: 'provenance' must be a list")
    return PortablePrimitive(entry.get("name"), tuple(_number(c, context, "chebyshev") for c in coefficients),
                             exact, tuple(_provenance_from_json(p, context) for p in provenance),
                             _number(entry.get("fit_r2", 1.0), context, "fit_r2"))


def _exact_from_json(exact, context: str) -> ExactForm:
    from sciml.symbolic.primitives import DEFAULT_LIBRARY

    if not isinstance(exact, dict):
        raise LibraryFileError(f"{context}: 'exact' must be null or an object")
    _keys(exact, {"primitive", "affine"}, context + " exact")
    primitive = exact.get("primitive")
    # The name is looked up in sciml's own table, never resolved any other way.
    if not isinstance(primitive, str) or primitive not in DEFAULT_LIBRARY:
        raise LibraryFileError(f"{context}: exact form names {primitive!r}, which is not a primitive of the "
                               f"symbolic stage ({', '.join(DEFAULT_LIBRARY.names)}); register it with "
                               "sciml.symbolic.register_primitive before loading, or set 'exact' to null")
    affine = exact.get("affine")
    if not isinstance(affine, list) or len(affine) != 4:
        raise LibraryFileError(f"{context}: exact 'affine' must be four numbers [a, b, c, d]")
    return ExactForm(primitive, tuple(_number(v, context, "affine") for v in affine))


def _provenance_from_json(entry, context: str) -> Provenance:
    if not isinstance(entry, dict):
        raise LibraryFileError(f"{context}: each provenance entry must be an object")
    _keys(entry, _PROVENANCE_KEYS, context + " provenance")
    missing = sorted(_PROVENANCE_KEYS - set(entry))
    if missing:
        raise LibraryFileError(f"{context}: provenance misses {missing}")
    problem = entry["problem"]
    if not isinstance(problem, str) or len(problem) > 256:
        raise LibraryFileError(f"{context}: provenance 'problem' must be a string of at most 256 characters")
    x_range = entry["x_range"]
    if not isinstance(x_range, list) or len(x_range) != 2:
        raise LibraryFileError(f"{context}: provenance 'x_range' must be [low, high]")
    integers = []
    for key in ("layer", "input", "output"):
        value = entry[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise LibraryFileError(f"{context}: provenance {key!r} must be a non-negative integer")
        integers.append(value)
    return Provenance(problem, *integers, _number(entry["r2"], context, "r2"),
                      tuple(_number(v, context, "x_range") for v in x_range),
                      _number(entry["y_mean"], context, "y_mean"), _number(entry["y_scale"], context, "y_scale"))


def _number(value, context: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LibraryFileError(f"{context}: {key!r} holds {value!r}, not a finite number")
    return float(value)


def _keys(entry: dict, allowed: set, context: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise LibraryFileError(f"{context}: unknown keys {unknown} (allowed: {sorted(allowed)}); a file "
                               "of a newer sciml? Save it again with this version")
