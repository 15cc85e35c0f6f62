"""The import graph of the ``sciml`` package: no cycles, and the seams of the architecture.

The graph is read statically with :mod:`ast` from every module the package installs
(``sciml/`` and the ``datasets``, ``operators`` and ``problems`` folders it maps into the
``sciml`` namespace). Imports inside functions count as much as top-level ones: a lazy import
only defers the same two-way dependency to run time (``forecast`` taking helpers back from
``solve`` was one), and it turns into an import-time cycle the day someone hoists it. Imports
under ``if TYPE_CHECKING:`` do not count: they never run. The same reading checks that only the
command line sees ``sys.argv`` and that no module imports what a saved file names.
"""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
FOLDERS = {"sciml": ROOT / "sciml", "sciml.datasets": ROOT / "datasets",
           "sciml.operators": ROOT / "operators", "sciml.problems": ROOT / "problems"}
# The command line: the only modules that parse arguments, and that nothing else imports.
CLI = {"sciml.cli", "sciml.discover_command", "sciml.edges_command"}
# The only modules that import a module named by a variable: each takes the name from a table
# of its own (built-in models, lazily loaded exports), never from a file or an argument.
DYNAMIC_IMPORTERS = {"sciml.datasets", "sciml.models", "sciml.models.registry"}
# Libraries that parse command lines (``sys.argv`` read directly is checked separately).
ARGUMENT_PARSERS = {"argparse", "optparse", "getopt", "click", "typer", "docopt", "fire"}


def _modules() -> dict[str, pathlib.Path]:
    out = {}
    for package, folder in FOLDERS.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("").parts
            if rel[-1] == "__init__":
                rel = rel[:-1]
            if package == "sciml" and rel and rel[0] in ("datasets", "operators", "problems"):
                continue
            out[".".join((package, *rel))] = path
    return out


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and isinstance(test, (ast.Name, ast.Attribute)) and (
        getattr(test, "id", None) == "TYPE_CHECKING" or getattr(test, "attr", None) == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Every import node of ``tree``, at any depth, outside ``if TYPE_CHECKING:`` blocks."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif not _is_type_checking(node):
            yield from _imports(node)


def _graph() -> dict[str, set[str]]:
    """``module -> {sciml modules it imports}`` (external imports as ``ext:<name>``)."""
    modules = _modules()

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                source = ".".join(base + ([node.module] if node.module else []))
                targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source
                           for a in node.names]
            for target in targets:
                if target == "sciml" or target.startswith("sciml."):
                    deps.add(owner(target))
                else:
                    deps.add(f"ext:{target.split('.')[0]}")
        deps.discard(name)
        deps.discard(None)
        graph[name] = deps
    return graph


def _reads_argv(tree: ast.AST) -> bool:
    """Whether ``tree`` reads ``sys.argv`` (``sys.argv``, ``from sys import argv``), at any depth."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "argv" and getattr(node.value, "id", None) == "sys":
            return True
        if isinstance(node, ast.ImportFrom) and node.module == "sys" and any(a.name == "argv" for a in node.names):
            return True
    return False


def _unsafe_loading(tree: ast.AST) -> list[str]:
    """What in ``tree`` could run code named in a file: an import of a module named by a
    variable (``importlib.import_module(name)``, ``__import__(name)``, ``pydoc.locate``), pickle,
    or ``allow_pickle=True``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            literal = node.args and isinstance(node.args[0], ast.Constant)
            if func in ("import_module", "__import__", "locate") and not literal:
                found.append(f"{func}(<variable>) at line {node.lineno}")
            if any(k.arg == "allow_pickle" and getattr(k.value, "value", False) is not False for k in node.keywords):
                found.append(f"allow_pickle at line {node.lineno}")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"import {n} at line {node.lineno}" for n in names
                      if n.split(".")[0] in ("pickle", "dill", "cloudpickle", "joblib")]
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path ``a -> b -> ... -> a``) per strongly connected component."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(v):  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    cycles = []
    for component in components:
        start = min(component)
        path, seen = [start], {start}
        while True:  # walk inside the component until a module repeats
            nxt = min(w for w in graph[path[-1]] if w in component)
            if nxt in seen:
                cycles.append(path[path.index(nxt):] + [nxt])
                break
            path.append(nxt)
            seen.add(nxt)
    return cycles


def test_the_graph_sees_the_package():
    graph = _graph()
    assert {"sciml.cli", "sciml.models.kan", "sciml.dynamics.solve", "sciml.datasets.dynamics"} <= set(graph)
    assert "sciml.models.kan_bases" in graph["sciml.models.kan"]
    # The seams' checks see what they look for where it is allowed: the CLI's own parsing,
    # and the CLI composing the symbolic stage with the report.
    assert {"ext:argparse", "sciml.report"} <= graph["sciml.cli"]
    assert any(d.startswith("sciml.symbolic") for d in graph["sciml.cli"])
    assert _reads_argv(ast.parse("import sys\ndef f():\n    return sys.argv[1:]"))
    assert _reads_argv(ast.parse("from sys import argv"))
    assert not _reads_argv(ast.parse("import sys\nsys.exit(argv)"))
    assert _unsafe_loading(ast.parse("import importlib\nimportlib.import_module(cfg['class'])")) == [
        "import_module(<variable>) at line 2"]
    assert len(_unsafe_loading(ast.parse("import pickle\nnp.load(p, allow_pickle=True)"))) == 2
    assert not _unsafe_loading(ast.parse("__import__('os')\nnp.load(p, allow_pickle=False)"))
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_import_cycles():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles in sciml:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_seams():
    """Argument parsing only in the CLI; the CLI composes the stages; the core imports no data."""
    graph = _graph()
    core = {m for m in graph if not m.startswith(("sciml.datasets", "sciml.operators", "sciml.problems"))}
    modules = _modules()
    problems = []
    for module in sorted(core - CLI):
        deps = graph[module]
        parsers = sorted(p for p in ARGUMENT_PARSERS if f"ext:{p}" in deps)
        if parsers:
            problems.append(f"{module} parses command lines with {parsers} (that belongs in {sorted(CLI)})")
        if _reads_argv(ast.parse(modules[module].read_text(encoding="utf-8"))):
            problems.append(f"{module} reads sys.argv (only {sorted(CLI)} see the command line)")
        if deps & CLI:
            problems.append(f"{module} imports the command line {sorted(deps & CLI)}")
        data = sorted(d for d in deps if d.startswith(("sciml.datasets", "sciml.problems")))
        if data:
            problems.append(f"{module} imports data or problem files {data}")
        if module.startswith("sciml.symbolic") and any(d.startswith("sciml.report") for d in deps):
            problems.append(f"{module} imports sciml.report (the CLI composes symbolic + report)")
    assert not problems, "\n".join(problems)


def test_training_knows_no_model_class():
    """The trainer reaches surrogates through their protocol and the callbacks the models
    package owns (KAN grid extension), never through a model module."""
    graph = _graph()
    assert "sciml.training.trainer" in graph
    problems = []
    for module, deps in sorted(graph.items()):
        models = sorted(d for d in deps if d.startswith("sciml.models.") and d != "sciml.models.registry")
        if module.startswith("sciml.training") and models:
            problems.append(f"{module} imports {models} (sciml.models.kan* and the like)")
    assert not problems, "\n".join(problems)


def test_the_engine_knows_no_problem_kind():
    """One training loop for every problem: the engine imports no DSL, model, loss, dynamics
    or atomistic module (they come to it as a loss function, batches and callbacks)."""
    deps = _graph()["sciml.training.engine"]
    kinds = ("sciml.dsl", "sciml.models", "sciml.losses", "sciml.dynamics", "sciml.atomistic", "sciml.solver")
    assert not sorted(d for d in deps if d.startswith(kinds))


def test_public_api_of_the_subpackages():
    """``sciml.models`` and ``sciml.losses`` export what users import, loaded on first use."""
    import subprocess
    import sys

    code = ("import sys, sciml.models as m, sciml.losses as l; "
            "assert 'sciml.models.kan' not in sys.modules; "
            "[getattr(p, n) for p in (m, l) for n in p.__all__]")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)


def test_saved_files_are_data():
    """Nothing in the package imports a module a file names or unpickles: opening a saved run,
    model or law runs no code from it (saved models are rebuilt from registry names)."""
    problems = []
    for module, path in sorted(_modules().items()):
        found = _unsafe_loading(ast.parse(path.read_text(encoding="utf-8")))
        if module in DYNAMIC_IMPORTERS:
            found = [f for f in found if not f.startswith("import_module(")]
        problems += [f"{module}: {f}" for f in found]
    assert not problems, "\n".join(problems)


def test_every_subpackage_is_installed():
    """``pyproject.toml`` lists the packages a regular (non-editable) install copies: a folder
    missing there imports in a development checkout and is absent from a wheel."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {".".join(("sciml", *p.parent.relative_to(ROOT / "sciml").parts)).rstrip(".")
             for p in (ROOT / "sciml").rglob("__init__.py")}
    found |= set(config["package-dir"]) - {""}
    assert found <= listed, f"add {sorted(found - listed)} to [tool.setuptools] packages in pyproject.toml"
