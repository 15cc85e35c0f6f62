"""``discover`` on untidy and hostile data: nothing injected, nothing executed, a clear answer.

Most tests replace the search by a backend that proposes fixed formulas (:class:`Proposes`):
what is under test is the path around the search (reading, checking and naming the columns,
law.json, load_law, the report, the command's messages and exit codes), and that path runs in
milliseconds. One test runs the real built-in search on the awkward columns end to end.
"""

from __future__ import annotations

import contextlib
import csv
import html.parser
import io
import dataclasses
import json
import pathlib
import sys
import tempfile
import types
from unittest import mock

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sciml.report import render_html, write_report
from sciml.report.law_report import _pareto_figure, pareto_floor
from sciml import discover_command as command
from sciml.symbolic import discover, load_law
from sciml.symbolic.backends import Backend, PySRBackend
from sciml.symbolic.law import Candidate, Law, law_json
from sciml.symbolic.names import safe_identifiers

from test_report import _chromium

MARKUP = "<script>alert(1)</script>"


class Proposes(Backend):
    """A stand-in search: proposes ``formula(symbols)`` (default: twice the product of the inputs,
    the law of :func:`product_csv`)."""

    name = "proposes"

    def __init__(self, formula=None):
        self.formula = formula or (lambda s: 2 * sp.Mul(*s))

    def search(self, X, y, symbols, *, seed=0, time_budget=None):
        return [("proposes", self.formula(symbols))]


@contextlib.contextmanager
def proposing(formula=None):
    """The command's searches use :class:`Proposes` instead of the real backends."""
    with mock.patch("sciml.symbolic.discover._backends", lambda *a, **k: [Proposes(formula)]):
        yield


def sciml_discover(*argv) -> tuple[int, str, str]:
    """``sciml discover ARGV`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = command.main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def write_csv(path: pathlib.Path, header, rows) -> pathlib.Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def product_csv(path, names=("a", "b", "y"), n=60, seed=0):
    r = np.random.default_rng(seed)
    a, b = r.uniform(1, 2, n), r.uniform(1, 2, n)
    return write_csv(path, names, zip(a, b, 2 * a * b))


def assert_one_line_error(status, err, *culprits):
    assert status == 2, err
    *before, last = err.strip().splitlines()
    assert last.startswith("sciml discover: error: "), err
    assert all(line.startswith(("sciml discover: note: ", "sciml discover: warning: "))
               for line in before), err
    for c in culprits:
        assert c in last, (c, last)


class _Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs


def assert_no_markup_from_data(page: str):
    """No element or attribute in ``page`` that the report itself does not write."""
    p = _Tags()
    p.feed(page)
    allowed = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "div", "p", "code",
               "table", "tr", "th", "td", "pre", "ul", "li", "img", "strong", "math", "mrow", "mi",
               "mo", "mn", "msub", "msup", "msubsup", "mfrac", "msqrt", "mroot", "mfenced",
               "mtext", "mspace", "mstyle", "mover", "munder", "mtable", "mtr", "mtd"}
    assert set(p.tags) <= allowed, set(p.tags) - allowed
    for name, value in p.attrs:
        assert not name.startswith("on"), (name, value)
        if name == "src":
            assert value.startswith("data:image/png;base64,"), value


# ---------------------------------------------------------------- markup and code in names


def test_markup_column_name_escaped_in_report():
    r = np.random.default_rng(0)
    a, b = r.uniform(1, 2, 50), r.uniform(1, 2, 50)
    law = discover({MARKUP: a, "b": b, "y": 2 * a * b}, "y", backend=Proposes())
    page = render_html(law)
    assert MARKUP not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert MARKUP not in law.mathml() and MARKUP not in law_json(law.to_dict())
    assert_no_markup_from_data(page)


@pytest.mark.slow  # ~25 s in the parallel suite; CI runs it in its slow list
def test_markup_target_and_expressions_escaped():
    r = np.random.default_rng(0)
    a = r.uniform(1, 2, 50)
    law = discover({"<b>a</b>": a, MARKUP: 3 * a, "<i>z</i>": a * a}, [MARKUP, "<i>z</i>"],
                   backend=Proposes())
    page = render_html(law, figures=False)
    assert MARKUP not in page and "<b>" not in page and "<i>" not in page
    assert_no_markup_from_data(page)


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium not installed "
                    "(Debian: apt-get install -y chromium); the rendering check needs a browser")
def test_markup_column_names_never_run_in_chromium(tmp_path):
    # each payload would add an <x-pwned> element if the browser ran it
    payloads = ["<script>document.body.appendChild(document.createElement('x-'+'pwned'))</script>",
                "<img src=x onerror=\"document.body.appendChild(document.createElement('x-'+'pwned'))\">",
                "<svg onload=\"document.body.appendChild(document.createElement('x-'+'pwned'))\">"]
    r = np.random.default_rng(0)
    cols = {p: r.uniform(1, 2, 40) for p in payloads}
    cols["y"] = np.prod(np.column_stack(list(cols.values())), axis=1)
    law = discover(cols, "y", backend=Proposes())
    path = write_report(law, tmp_path / "report.html")
    import subprocess

    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--no-first-run",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=2000", "--dump-dom",
           path.as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    assert "<math" in dom, "the page did not render"
    assert "<x-pwned" not in dom, "a script from a column name ran in the browser"
    assert "<script" not in dom and '<img src="x"' not in dom and "<svg" not in dom


def test_law_json_python_column_name_not_executed(tmp_path):
    sentinel = tmp_path / "pwned"
    name = f"__import__('os').system('touch {sentinel}')"
    data = product_csv(tmp_path / "p.csv", (name, "b", "y"))
    with proposing():
        status, out, err = sciml_discover(data, "--target", "y", "--out", tmp_path / "o")
    assert status == 0, err
    record = json.loads((tmp_path / "o" / "law.json").read_text())
    parsed = sp.sympify(record["expression"])  # the documented way to read it
    law = load_law(tmp_path / "o" / "law.json")
    assert not sentinel.exists()
    assert record["inputs"][0] == name and record["symbols"][0]["column"] == name
    assert {str(s) for s in parsed.free_symbols} == {s["identifier"] for s in record["symbols"]}
    assert name in record["display_expression"]
    X = np.random.default_rng(1).uniform(1, 2, (5, 2))
    np.testing.assert_allclose(law(X), 2 * X[:, 0] * X[:, 1])


@pytest.mark.parametrize("names", [("2*a b*b-c + 1/2", "E", "y"), ("lambda", "a b", "y"),
                                   ("x", "x_", "y"), ("sin", "I", "y"), ("1", "N", "y")])
def test_law_json_awkward_column_names_round_trip(tmp_path, names):
    data = product_csv(tmp_path / "d.csv", names)
    with proposing():
        status, _, err = sciml_discover(data, "--target", "y", "--out", tmp_path / "o")
    assert status == 0, err
    record = json.loads((tmp_path / "o" / "law.json").read_text())
    idents = [s["identifier"] for s in record["symbols"]]
    assert len(set(idents)) == 2
    by_name = {i: sp.Symbol(i) for i in idents}
    e = sp.sympify(record["expression"], locals=by_name)
    assert sp.simplify(e - 2 * by_name[idents[0]] * by_name[idents[1]]) == 0
    X = np.random.default_rng(1).uniform(1, 2, (5, 2))
    np.testing.assert_allclose(load_law(tmp_path / "o" / "law.json")(X), 2 * X[:, 0] * X[:, 1])
    # the display form quotes every name that is not an identifier
    for n, i in zip(names, idents):
        if n != i:
            assert f"`{n}`" in record["display_expression"]


def test_safe_identifiers_keep_plain_names_and_rename_the_rest():
    got = safe_identifiers(["x", "a b", "E", "lambda", "2x", "a_b", "", "__import__('os')"])
    assert got["x"] == "x" and got["a_b"] == "a_b" and got["a b"] != "a_b"
    assert got["E"] == "E_" and got["lambda"] == "lambda_" and got["2x"] == "c_2x"
    assert len(set(got.values())) == len(got)
    assert all(sp.sympify(i) == sp.Symbol(i) for i in got.values())


@pytest.mark.parametrize("expression", [
    "__import__('os').system('touch PWNED')", "a.__class__", "(lambda: a)()", "a[0]",
    "eval('1')", "open('x')", "a if a else a", "b", "'a'", "a; a", "sin(a, k=1)", "9**9**9**9",
    "getattr(a, 'x')", "Symbol('a')", "exp(a).func"])
def test_load_law_refuses_anything_but_arithmetic(tmp_path, expression):
    path = tmp_path / "law.json"
    path.write_text(json.dumps({"expression": expression, "target": "y", "inputs": ["a"],
                                "symbols": [{"column": "a", "identifier": "a", "positive": True}]}))
    with pytest.raises(ValueError):
        load_law(path)
    assert not (tmp_path / "PWNED").exists()


def test_load_law_refuses_unsafe_recorded_identifiers(tmp_path):
    path = tmp_path / "law.json"
    path.write_text(json.dumps({"expression": "2", "inputs": ["a"], "symbols": [
        {"column": "a", "identifier": "__import__", "positive": True}]}))
    with pytest.raises(ValueError, match="safe identifier"):
        load_law(path)


def test_pysr_backend_safe_names(monkeypatch, tmp_path):
    """PySR sees x0, x1, ... and its formulas come back through the safe parser."""
    seen = {}
    sentinel = tmp_path / "pwned"

    class FakeRegressor:
        def __init__(self, **options):
            pass

        def fit(self, X, y, variable_names):
            seen["names"] = variable_names
            x0, x1 = sp.symbols(variable_names)
            self.equations_ = {"sympy_format": [2 * x0 * x1, x0 + sp.sin(x1)]}

    monkeypatch.setitem(sys.modules, "pysr", types.SimpleNamespace(PySRRegressor=FakeRegressor))
    monkeypatch.setattr(PySRBackend, "check", staticmethod(lambda: None))
    names = [f"__import__('os').system('touch {sentinel}')", "a b"]
    idents = safe_identifiers(names)
    symbols = [sp.Symbol(idents[n], positive=True) for n in names]
    X = np.random.default_rng(0).uniform(1, 2, (20, 2))
    got = PySRBackend().search(X, X[:, 0] * X[:, 1], symbols)
    assert seen["names"] == ["x0", "x1"]
    assert [e for _, e in got] == [2 * symbols[0] * symbols[1], symbols[0] + sp.sin(symbols[1])]
    assert not sentinel.exists()


# ---------------------------------------------------------------- untidy CSV files


def test_text_id_column_skipped(tmp_path):
    r = np.random.default_rng(0)
    a = r.uniform(1, 2, 60)
    data = write_csv(tmp_path / "id.csv", ["id", "a", "y"],
                     [(f"row{i}", p, 3 * p * p) for i, p in enumerate(a)])
    with proposing(lambda s: 3 * s[0] ** 2):
        status, _, err = sciml_discover(data, "--target", "y", "--out", tmp_path / "o", "--no-report")
    assert status == 0, err
    assert "note: skipped column 'id' (text such as 'row0')" in err
    record = json.loads((tmp_path / "o" / "law.json").read_text())
    assert record["inputs"] == ["a"] and record["record"]["data"]["skipped_columns"] == ["id"]


def test_empty_column_skipped(tmp_path):
    r = np.random.default_rng(0)
    a = r.uniform(1, 2, 30)
    data = write_csv(tmp_path / "e.csv", ["a", "notes", "y"], [(p, "", 3 * p * p) for p in a])
    with proposing(lambda s: 3 * s[0] ** 2):
        status, _, err = sciml_discover(data, "--target", "y", "--out", tmp_path / "o", "--no-report")
    assert status == 0, err
    assert "skipped column 'notes' (no numbers)" in err


def test_text_column_named_in_inputs_is_an_error(tmp_path):
    data = write_csv(tmp_path / "id.csv", ["id", "a", "y"], [(f"row{i}", i, i) for i in range(20)])
    status, _, err = sciml_discover(data, "--target", "y", "--inputs", "id,a", "--out", tmp_path / "o")
    assert_one_line_error(status, err, "'id'", "not numeric", "'row0'")


def test_text_target_is_an_error(tmp_path):
    data = write_csv(tmp_path / "t.csv", ["a", "y"], [(i, f"v{i}") for i in range(20)])
    status, _, err = sciml_discover(data, "--target", "y", "--out", tmp_path / "o")
    assert_one_line_error(status, err, "target column 'y'", "not numeric")


def test_empty_csv_names_file(tmp_path):
    data = tmp_path / "empty.csv"
    data.write_text("")
    status, _, err = sciml_discover(data, "--target", "y", "--out", tmp_path / "o")
    assert_one_line_error(status, err, str(data), "empty")


def test_header_only_csv(tmp_path):
    data = tmp_path / "header.csv"
    data.write_text("a,b,y\n")
    status, _, err = sciml_discover(data, "--target", "y", "--out", tmp_path / "o")
    assert_one_line_error(status, err, str(data), "no rows")


def test_nan_rows_dropped_with_warning(tmp_path):
    r = np.random.default_rng(0)
    a, b = r.uniform(1, 2, 40), r.uniform(1, 2, 40)
    rows = [list(row) for row in zip(a, b, 2 * a * b)]
    rows[3][0], rows[7][2], rows[11][1] = "nan", "inf", ""
    data = write_csv(tmp_path / "nan.csv", ["a", "b", "y"], rows)
    with proposing():
        status, _, err = sciml_discover(data, "--target", "y", "--out", tmp_path / "o", "--no-report")
    assert status == 0, err
    assert "warning: dropped 3 of 40 rows" in err and str(data) in err
    record = json.loads((tmp_path / "o" / "law.json").read_text())
    assert record["record"]["data"]["dropped_rows"] == 3
    assert record["record"]["n_samples"] == 37


def test_too_few_finite_rows_is_an_error(tmp_path):
    data = write_csv(tmp_path / "few.csv", ["a", "y"], [(i, "nan" if i > 4 else i) for i in range(30)])
    status, _, err = sciml_discover(data, "--target", "y", "--out", tmp_path / "o")
    assert_one_line_error(status, err, "only 5 of 30 rows", str(data))


def test_huge_values_name_the_column(tmp_path):
    r = np.random.default_rng(0)
    data = write_csv(tmp_path / "big.csv", ["a", "y"], zip(r.uniform(1, 2, 30), r.uniform(1e299, 1e300, 30)))
    status, _, err = sciml_discover(data, "--target", "y", "--out", tmp_path / "o")
    assert_one_line_error(status, err, "column 'y'", "overflow", "rescale")


# ---------------------------------------------------------------- units


def test_units_division_by_zero_named(tmp_path):
    data = product_csv(tmp_path / "d.csv")
    status, _, err = sciml_discover(data, "--target", "y", "--units", "a=m^(1/0),b=m,y=m2",
                                    "--out", tmp_path / "o")
    assert_one_line_error(status, err, "'a'", "m^(1/0)", "division by zero")


def test_units_json_non_string(tmp_path):
    data = product_csv(tmp_path / "d.csv")
    units = tmp_path / "units.json"
    units.write_text(json.dumps({"a": "m", "b": "m", "y": 5}))
    status, _, err = sciml_discover(data, "--target", "y", "--units", units, "--out", tmp_path / "o")
    assert_one_line_error(status, err, "column 'y'", "got 5", "'m/s'")


@pytest.mark.parametrize("content, culprit", [("[1, 2]", "list"), ("{not json", "not JSON")])
def test_units_json_not_an_object(tmp_path, content, culprit):
    data = product_csv(tmp_path / "d.csv")
    units = tmp_path / "units.json"
    units.write_text(content)
    status, _, err = sciml_discover(data, "--target", "y", "--units", units, "--out", tmp_path / "o")
    assert_one_line_error(status, err, str(units), culprit)


def test_units_unknown_column_rejected(tmp_path):
    data = product_csv(tmp_path / "d.csv")
    status, _, err = sciml_discover(data, "--target", "y", "--units", "a=m,b=m,y=m2,z=s",
                                    "--out", tmp_path / "o")
    assert_one_line_error(status, err, "['z']", "not columns")


# ---------------------------------------------------------------- verdict, output, report


def test_no_law_found_exit_code(tmp_path):
    r = np.random.default_rng(0)
    data = write_csv(tmp_path / "noise.csv", ["a", "y"], zip(r.uniform(1, 2, 80), r.normal(size=80)))
    with proposing(lambda s: sp.sin(40 * s[0])):
        status, _, err = sciml_discover(data, "--target", "y", "--out", tmp_path / "o", "--no-report")
    assert status == 1, err
    assert "no law found" in err
    record = json.loads((tmp_path / "o" / "law.json").read_text())
    assert record["verdict"] == "no law found" and record["r2_test"] <= 0


def test_law_found_verdict(tmp_path):
    with proposing():
        status, _, err = sciml_discover(product_csv(tmp_path / "d.csv"), "--target", "y",
                                        "--out", tmp_path / "o", "--no-report")
    assert status == 0, err
    assert json.loads((tmp_path / "o" / "law.json").read_text())["verdict"] == "law found"


def test_out_that_is_a_file_is_refused_before_the_search(tmp_path):
    out = tmp_path / "taken"
    out.write_text("")
    with mock.patch("sciml.symbolic.discover._backends", side_effect=AssertionError("searched")):
        status, _, err = sciml_discover(product_csv(tmp_path / "d.csv"), "--target", "y", "--out", out)
    assert_one_line_error(status, err, str(out), "is a file")


def _written(path: pathlib.Path, content: bytes) -> pathlib.Path:
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("make, culprit", [
    (lambda d: d / "missing.csv", "does not exist"),
    (lambda d: d, "is a folder"),
    (lambda d: _written(d / "x.xlsx", b""), "unsupported"),
    (lambda d: _written(d / "bin.csv", b"\xff\xfe\x00a,b\n\x00\xff,1\n"), "bin.csv")])
def test_bad_data_files_give_one_line(tmp_path, make, culprit):
    status, _, err = sciml_discover(make(tmp_path), "--target", "y", "--out", tmp_path / "o")
    assert_one_line_error(status, err, culprit)


def test_pareto_axis_clamped():
    x = sp.Symbol("x", positive=True)
    front = [Candidate(sp.Float(1.5), "constant", 1, 0.3, 0.25, 0.0),
             Candidate(2 * x, "exact", 3, 0.0, 1e-315, 1.0),
             Candidate(2 * x + sp.Float(1e-9), "exact", 7, 0.0, 0.0, 1.0)]
    law = Law(expr=2 * x, symbols=[x], inputs=["x"], target="y", pareto=front,
              metrics={"formula": {"r2_test": 1.0}})
    fig = _pareto_figure(law)
    bottom, top = fig.axes[0].get_ylim()
    assert bottom >= pareto_floor([0.25, 1e-315, 0.0]) / 10 > 1e-20
    assert top >= 0.25


def test_mathtext_in_column_names_does_not_break_the_figures():
    r = np.random.default_rng(0)
    a, b = r.uniform(1, 2, 40), r.uniform(1, 2, 40)
    law = discover({"$\\frac{a": a, "b_$^": b, "$y$": 2 * a * b}, "$y$", backend=Proposes())
    assert "$\\frac{a" in render_html(law)


@pytest.mark.slow  # ~40 s in the parallel suite; CI runs it in its slow list
def test_builtin_search_on_awkward_columns_end_to_end(tmp_path):
    """The real search (no stand-in) on the three hostile tables of the hardening check."""
    sentinel = tmp_path / "pwned"
    r = np.random.default_rng(0)
    a, b = r.uniform(1, 2, 200), r.uniform(1, 2, 200)
    markup = write_csv(tmp_path / "x.csv", [MARKUP, "b", "y"], zip(a, b, 2 * a * b))
    code = write_csv(tmp_path / "p.csv", [f"__import__('os').system('touch {sentinel}')", "b", "y"],
                     zip(a, b, 2 * a * b))
    ids = write_csv(tmp_path / "id.csv", ["id", "a", "y"], [(f"row{i}", p, 3 * p * p) for i, p in enumerate(a)])
    for data in (markup, code, ids):
        out = tmp_path / data.stem
        report = [] if data is markup else ["--no-report"]  # figures cost seconds each
        status, _, err = sciml_discover(data, "--target", "y", "--out", out, "--backend", "builtin",
                                        *report)
        assert status == 0, err
        law = load_law(out / "law.json")
        assert law.metrics["formula"]["r2_test"] > 1 - 1e-9
        for path in out.iterdir():
            assert MARKUP not in path.read_text(encoding="utf-8")
        sp.sympify(json.loads((out / "law.json").read_text())["expression"])
    assert not sentinel.exists()


# ---------------------------------------------------------------- fuzzing

_SENTINEL = pathlib.Path(tempfile.gettempdir()) / "sciml-fuzz-pwned"
_NASTY = [MARKUP, "<img src=x onerror=alert(1)>", "</code><b>", "&amp;", "a b", "E", "I", "S",
          "lambda", "__class__", "x", "x_1", "sin", "1", "", " ", "a,b", 'q"uote', "`tick`",
          "$\\frac{", "é", "ℌ", "y", f"__import__('os').system('touch {_SENTINEL}')",
          "exec('import os')", "a.b", "[0]", "nan", "inf", "-", "True"]
_names = st.one_of(st.sampled_from(_NASTY), st.sampled_from(_NASTY),
                   st.text(st.characters(exclude_categories=("Cs",)), max_size=12))
_cells = {
    "float": st.floats(-1e6, 1e6, allow_nan=False).map(repr),
    "sprinkled": st.one_of(*[st.floats(-1e3, 1e3).map(repr)] * 4,
                           st.sampled_from(["nan", "inf", "-inf", ""])),
    "wide": st.floats(allow_nan=False).map(repr),  # up to +-1.8e308 and inf
    "int": st.integers(-1000, 1000).map(str),
    "text": st.text(alphabet="abcxyz<>&'\" ", min_size=1, max_size=6),
    "bool": st.sampled_from(["True", "False"]),
}
_units = st.one_of(st.dictionaries(_names, st.one_of(
    st.sampled_from(["m", "s", "m/s", "kg m2 s-2", "1", "m^(1/0)", "m%", "m^(1/2)"]),
    st.integers(), st.none(), st.lists(st.integers(), max_size=2)), max_size=4))


_kinds = st.sampled_from(["float", "float", "float", "sprinkled", "sprinkled", "wide", "int", "text",
                          "bool"])


@st.composite
def tables(draw):
    """A CSV as text (random names, kinds, sizes 0-50 rows), a target, inputs and units.

    The first and last columns are numeric and the last is usually the target, so that many
    tables are usable and the law path (law.json, load_law, report) is exercised as much as
    the refusals.
    """
    n_cols = 4 - draw(st.integers(0, 2))
    names = draw(st.lists(_names, min_size=n_cols, max_size=n_cols, unique=True))
    numeric = st.sampled_from(["float", "float", "sprinkled", "wide", "int"])
    kinds = [draw(numeric if k == 0 else _kinds) for k in range(n_cols - 1)] + [draw(numeric)]
    n_rows = 50 - draw(st.integers(0, 50))
    rows = [[draw(_cells[k]) for k in kinds] for _ in range(n_rows)]
    buf = io.StringIO()
    w = csv.writer(buf)
    if n_rows or draw(st.booleans()):
        w.writerow(names)
    w.writerows(rows)
    # weights by hand: hypothesis favours the simplest branch of one_of ([] and {})
    target = names[-1] if draw(st.integers(0, 5)) else draw(st.one_of(st.sampled_from(names), _names))
    inputs = None if draw(st.integers(0, 4)) else draw(st.lists(st.sampled_from(names), max_size=3))
    units = {0: draw(_units), 1: {n: "m" for n in names}}.get(draw(st.integers(0, 5)))
    return buf.getvalue(), target, inputs, units


def _text_report(law, path):
    """The command's report without its figures (PNG images, seconds to draw, no text)."""
    path.write_text(render_html(law, figures=False), encoding="utf-8")
    return path


def _check_law(folder: pathlib.Path):
    assert_no_markup_from_data((folder / "report.html").read_text(encoding="utf-8"))
    text = (folder / "law.json").read_text(encoding="utf-8")
    assert "<" not in text and ">" not in text  # markup never raw, even in the JSON
    record = json.loads(text)
    sp.sympify(record["expression"])
    law = load_law(folder / "law.json")
    law.details = {}
    assert_no_markup_from_data(render_html(law, figures=False))


# 25 tables here (about 40 s); CI's slow list draws 300 (test_fuzz_discover_on_random_csv_at_length).
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(tables())
def test_fuzz_discover_on_random_csv(case):
    """Random CSVs through the whole command, the search replaced by :class:`Proposes` and the
    report's figures left out (:func:`test_fuzz_report_figures_with_random_names` draws them).

    Every outcome is a law (exit 0 or 1; law.json parsed by sympify and load_law; the reports
    of the found law and of the reloaded one without markup from the data) or a one-line
    error with exit 2; nothing is ever executed. 50 tables here (about 50 s); 300 in the slow
    run (:func:`test_fuzz_discover_on_random_csv_at_length`).
    """
    _discover_on(case)


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(tables())
def test_fuzz_discover_on_random_csv_at_length(case):
    """:func:`test_fuzz_discover_on_random_csv` on 300 tables (about 5 minutes)."""
    _discover_on(case)


def _discover_on(case):
    content, target, inputs, units = case
    with tempfile.TemporaryDirectory() as d:
        d = pathlib.Path(d)
        data = d / "data.csv"
        data.write_text(content, encoding="utf-8")
        argv = [data, f"--target={target}", "--out", d / "o"]
        if inputs is not None:
            argv.append(f"--inputs={','.join(inputs)}")
        if units is not None:
            (d / "u.json").write_text(json.dumps(units))
            argv += ["--units", d / "u.json"]
        with proposing(lambda s: s[0] * 2 + s[-1]), mock.patch("sciml.report.write_report", _text_report):
            status, _, err = sciml_discover(*argv)
        event(f"exit {status}")
        if status == 2:
            assert_one_line_error(status, err)
        else:
            assert status in (0, 1), err
            assert "Traceback" not in err
            _check_law(d / "o")
    assert not _SENTINEL.exists()


@pytest.mark.slow  # 125 s (ten full reports with figures); .ci/run runs it after the default suite
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_names, min_size=2, max_size=3, unique=True))
def test_fuzz_report_figures_with_random_names(names):
    """The full report (figures included) for laws whose columns have random names."""
    r = np.random.default_rng(0)
    cols = {n: r.uniform(1, 2, 30) for n in names[:-1]}
    cols[names[-1]] = np.prod(np.column_stack(list(cols.values())), axis=1)
    law = discover(cols, names[-1], backend=Proposes())
    page = render_html(law)
    assert_no_markup_from_data(page)
    assert not _SENTINEL.exists()


def test_symbolify_awkward_input_names_escaped():
    """A KAN's inputs named by the user go through the same naming and escaping."""
    from sciml.symbolic import symbolify
    from test_symbolic import HELLO

    X = np.random.default_rng(0).uniform(-1, 1, (300, 2))
    law = symbolify(HELLO, X, inputs=[MARKUP, "a b"], target="<f>")
    assert {s.name for s in law.expr.free_symbols} <= set(safe_identifiers([MARKUP, "a b"]).values())
    page = render_html(law)
    assert MARKUP not in page and "<f>" not in page
    assert_no_markup_from_data(page)
    assert "`a b`" in law.display_expression()


def test_load_law_keeps_recorded_numeric_kan_edges(tmp_path):
    """A KAN law with numeric edges (undefined functions) reads back when they are recorded."""
    x = sp.Symbol("x", real=True)
    phi = sp.Function("phi_0_0_3")
    law = Law(expr=2 * phi(x) + x, symbols=[x], inputs=["x"], target="u", pareto=[],
              metrics={"formula": {"r2_test": 0.9}})
    record = law.to_dict()
    assert record["numeric_functions"] == ["phi_0_0_3"]
    (tmp_path / "law.json").write_text(json.dumps(record))
    assert load_law(tmp_path / "law.json").expr == 2 * phi(x) + x
    record["numeric_functions"] = ["__import__"]
    (tmp_path / "law.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="not safe identifiers"):
        load_law(tmp_path / "law.json")


def test_an_earlier_law_is_not_replaced_without_overwrite(tmp_path):
    r = np.random.default_rng(0)
    a = r.uniform(1, 2, 60)
    data = write_csv(tmp_path / "d.csv", ["a", "y"], [(p, 3 * p * p) for p in a])
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "law.json").write_text("{}")
    status, _, err = sciml_discover(data, "--target", "y", "--out", tmp_path / "o", "--no-report")
    assert status == 2 and "already holds a law" in err and "--overwrite" in err
    assert (tmp_path / "o" / "law.json").read_text() == "{}"
    with proposing(lambda s: 3 * s[0] ** 2):
        status, _, err = sciml_discover(data, "--target", "y", "--out", tmp_path / "o", "--no-report", "--overwrite")
    assert status == 0, err
    assert json.loads((tmp_path / "o" / "law.json").read_text())["inputs"] == ["a"]


@pytest.mark.slow  # ~40 s in the parallel suite; CI runs it in its slow list
def test_a_solved_field_is_distilled_into_a_law_in_its_coordinates(tmp_path):
    """``sciml solve --symbolify`` on a field: the law of the field itself (exact conditions
    included), in the coordinates, compared with the exact solution, and read back by load_law."""
    import sciml
    from sciml.dsl import Coordinate, Dirichlet, Field, Interval, Problem, pi, sin
    from sciml.symbolic.solution import symbolify_solution

    x = Coordinate("x")
    rod = Interval(x, 0, 1)
    u = Field("u", x)
    problem = Problem("rod", rod, [-u.diff(x, 2) - pi**2 * sin(pi * x)],
                      conditions=[Dirichlet(u, 0, on=rod.boundary)], exact={u: sin(pi * x)})
    solution = sciml.solve(problem, model="mlp", steps=300, lbfgs_steps=300, progress=False,
                         model_options={"hidden": [16, 16]})
    law = symbolify_solution(solution, tmp_path, n_samples=400, time_budget=10)["u"]
    record = json.loads((tmp_path / "law.json").read_text())
    assert record["inputs"] == ["x"] and "the solved field u" in record["applies_to"]
    assert record["fields"]["u"]["reference_rel_l2"] < 1e-3, record["display_expression"]
    xs = np.linspace(0, 1, 11)[:, None]
    np.testing.assert_allclose(load_law(tmp_path / "law.json")(xs), np.sin(np.pi * xs[:, 0]), atol=1e-3)
    # Sampled at the network's resolution, the law is the solution, not an imitation of its error.
    assert law.expr == sp.sin(sp.pi * law.symbols[0]), law.expr
    assert law.verdict == "law found" and record["fields"]["u"]["verdict"] == "law found"
    # A formula close to the field that does not solve its equation is told apart by the equation.
    from sciml.symbolic.solution import _equation_balance

    (s,) = law.symbols
    points = np.linspace(0.05, 0.95, 50)[:, None]
    assert _equation_balance(solution, {"u": law}, points) < 1e-12
    parabola = dataclasses.replace(law, expr=4 * s * (1 - s))  # within 6% of sin(pi x)
    assert _equation_balance(solution, {"u": parabola}, points) > 0.1
