"""The law-extraction report: one offline HTML file a scientist can check and archive.

Sections: the formula (presentation MathML, rendered natively by browsers), the structurally
different formulas the data support as well (when there are any), the error table
(formula vs network vs data, train and test), the Pareto front with the selection rule, residual
plots, the structure found without units (the decomposition tree, the step taken at each node
and the tests behind it), the network diagram with each edge's samples and fitted symbolic form (KAN laws), and
the run record (data hash, seed, versions). Figures are matplotlib PNGs embedded as base64, so
the file has no external references.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import pathlib

import numpy as np

from sciml.symbolic.law import Candidate, complexity, doubt
from sciml.symbolic.names import quoted

__all__ = ["render_html", "write_report"]

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em} h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ccc;padding:.25em .6em;
text-align:right} th{background:#f4f4f4} td.l,th.l{text-align:left}
.formula{font-size:1.4em;padding:.6em;background:#fafafa;border:1px solid #eee;overflow-x:auto}
code{background:#f4f4f4;padding:0 .2em} img{max-width:100%} .chosen{background:#e8f4e8}
.small{color:#666;font-size:.9em}
"""


_NO_FIGURES = "<p>Figures left out of this report.</p>"


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return '<img alt="figure" src="data:image/png;base64,' + base64.b64encode(buf.getvalue()).decode() + '">'


def _fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.6g}"
    return html.escape(str(v))


def _error_table(law) -> str:
    m = law.metrics
    rows = [("formula vs data", m.get("formula")), ("network vs data", m.get("network")),
            ("formula vs network", m.get("formula_vs_network"))]
    out = ["<table><tr><th class=l>comparison</th><th>R² train</th><th>RMSE train</th>"
           "<th>R² test</th><th>RMSE test</th></tr>"]
    for name, d in rows:
        if d is None:
            if name == "network vs data":
                out.append(f"<tr><td class=l>{name}</td><td colspan=4 class=l>no network: the law "
                           "was searched directly on the data</td></tr>")
            continue
        out.append(f"<tr><td class=l>{name}</td><td>{_fmt(d.get('r2_train'))}</td>"
                   f"<td>{_fmt(d.get('rmse_train'))}</td><td>{_fmt(d.get('r2_test'))}</td>"
                   f"<td>{_fmt(d.get('rmse_test'))}</td></tr>")
    out.append("</table>")
    return "".join(out)


def pareto_floor(errors) -> float:
    """The lowest held-out MSE the Pareto plot shows: ``1e-16`` of the largest error.

    Below it an error is floating-point round-off of an exact fit (it reaches 1e-315 and
    zero); plotting it would stretch the axis over hundreds of decades that say nothing.
    """
    top = max((e for e in errors if math.isfinite(e)), default=0.0)
    return top * 1e-16 if top > 0 else 1e-16


def _pareto_figure(law):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    front = [c for c in law.pareto if math.isfinite(c.mse_test)]
    floor = pareto_floor([c.mse_test for c in front])
    cx = [c.complexity for c in front]
    err = [max(c.mse_test, floor) for c in front]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.step(cx, err, where="post", color="0.6")
    ax.plot(cx, err, "o", color="C0")
    chosen = [e for c, e in zip(front, err) if c.expr == law.expr] or [err[-1]]
    ax.plot([law.complexity], chosen[:1], "*", ms=16, color="C3", label="chosen law")
    if any(c.mse_test < floor for c in front):
        ax.axhline(floor, color="0.8", lw=0.8, ls=":", label="round-off (exact below)")
    ax.set_yscale("log")
    ax.set_ylim(bottom=floor / 3)
    ax.set_xlabel("complexity (tree nodes)")
    ax.set_ylabel("held-out MSE" + (f" of log|{law.target}|" if proportional_note(law) else ""))
    ax.legend()
    ax.set_title("Pareto front")
    return fig


def _pareto(law, figures: bool) -> str:
    rows = ["<table><tr><th>complexity</th><th>held-out MSE</th><th>R² test</th>"
            "<th class=l>source</th><th class=l>formula</th></tr>"]
    for c in law.pareto:
        cls = ' class="chosen"' if c.expr == law.expr else ""
        rows.append(f"<tr{cls}><td>{c.complexity}</td><td>{_fmt(c.mse_test)}</td>"
                    f"<td>{_fmt(c.r2_test)}</td><td class=l>{html.escape(c.source)}</td>"
                    f"<td class=l><code>{html.escape(law.display_expression(c.expr))}</code></td></tr>")
    rows.append("</table>")
    return (_png(_pareto_figure(law)) if figures and law.pareto else "") + "".join(rows)


def _residuals(law, figures: bool) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = law.details
    if not d or "X" not in d:
        return "<p>No samples stored with this law.</p>"
    if not figures:
        return _NO_FIGURES
    X, y, pred, te = d["X"], d["y"], d["pred"], d["test_index"]
    k = X.shape[1]
    fig, axes = plt.subplots(1, k + 1, figsize=(3.2 * (k + 1), 2.8), squeeze=False)
    ax = axes[0, 0]
    ax.plot(y[te], pred[te], ".", ms=3)
    lo, hi = float(np.nanmin(y)), float(np.nanmax(y))
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
    ax.set_xlabel(f"data {law.target}", parse_math=False)  # names are text, not mathtext
    ax.set_ylabel("formula")
    ax.set_title("held-out: formula vs data")
    for i in range(k):
        ax = axes[0, i + 1]
        ax.plot(X[te, i], (pred - y)[te], ".", ms=3, label="formula")
        if "net" in d:
            ax.plot(X[te, i], (d["net"] - y)[te], ".", ms=2, alpha=0.6, label="network")
            ax.legend(fontsize=7)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xlabel(law.inputs[i], parse_math=False)
        ax.set_title("residual (held-out)")
    fig.tight_layout()
    return _png(fig)


def _edge_form(choice) -> str:
    if choice.numeric:
        return f"numeric (best R²={choice.r2:.3f})"
    a, b, c, d = choice.params
    return f"{c:.3g}·{choice.name}({a:.3g}x{b:+.3g}){d:+.3g}  R²={choice.r2:.5f}"


def _network(law, figures: bool) -> str:
    d = law.details
    if not d or "edges" not in d:
        return ("<p>Not a network law: the formula was searched on the data directly "
                "(built-in separable search and/or genetic programming).</p>")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sciml.symbolic.primitives import DEFAULT_LIBRARY

    s, choices = d["edges"], d["choices"]
    table = ["<table><tr><th class=l>edge</th><th class=l>fitted form c·f(a·x+b)+d</th></tr>"]
    for (l, i, j), ch in zip(s.index, choices):
        table.append(f"<tr><td class=l>layer {l}: {i}→{j}</td><td class=l>{html.escape(_edge_form(ch))}</td></tr>")
    table.append("</table>")
    if not figures:
        return _NO_FIGURES + "".join(table)
    widths = s.widths
    # layered diagram: nodes as circles, edges as lines coloured by fitted / numeric
    fig, ax = plt.subplots(figsize=(6, 1.2 + 1.2 * len(widths)))
    pos = {}
    for l, w in enumerate(widths):
        for i in range(w):
            pos[(l, i)] = ((i + 1) / (w + 1), l)
    for (l, i, j), ch in zip(s.index, choices):
        (x0, y0), (x1, y1) = pos[(l, i)], pos[(l + 1, j)]
        ax.plot([x0, x1], [y0, y1], color="C3" if ch.numeric else "C0", lw=1.2)
        ax.text((x0 + x1) / 2, (y0 + y1) / 2, ch.name or "?", fontsize=7, ha="center",
                bbox=dict(fc="white", ec="none", alpha=0.7, pad=0.5))
    for (l, i), (x, y) in pos.items():
        ax.plot(x, y, "o", ms=9, color="k")
    ax.set_yticks(range(len(widths)))
    ax.set_yticklabels([f"layer {l} ({w})" for l, w in enumerate(widths)])
    ax.set_xticks([])
    ax.set_title("network: blue = symbolic edge, red = numeric edge")
    diagram = _png(fig)
    n = len(s.index)
    cols = min(5, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.2 * rows), squeeze=False)
    for k, ((l, i, j), ch) in enumerate(zip(s.index, choices)):
        ax = axes[k // cols, k % cols]
        order = np.argsort(s.x[k])
        ax.plot(s.x[k][order], s.y[k][order], ".", ms=2, color="0.5", label="edge")
        if not ch.numeric:
            a, b, c, dd = ch.params
            xs = s.x[k][order]
            with np.errstate(all="ignore"):
                ys = c * np.asarray(DEFAULT_LIBRARY[ch.name].fn(a * xs + b)) + dd
            ax.plot(xs, ys, "-", color="C0", lw=1)
        ax.set_title(f"φ[{l}]{i}→{j}: {ch.name or 'numeric'}", fontsize=8)
        ax.tick_params(labelsize=6)
    for k in range(n, rows * cols):
        axes[k // cols, k % cols].axis("off")
    fig.tight_layout()
    return diagram + _png(fig) + "".join(table)


def render_html(law, title: str | None = None, figures: bool = True) -> str:
    """The report for ``law`` as one HTML string (no external resources).

    Every string from the data (column names, formulas, the run record) is escaped; the
    formula's MathML escapes symbol names too (:func:`sciml.symbolic.names.mathml`).
    ``figures=False`` leaves out the matplotlib figures (a fast text-only report).
    """
    from sciml.symbolic.law import SELECTION_RULE

    title = title or f"Law for {law.target}"
    extra = ""
    if law.expressions:
        items = "".join(f"<li><code>{html.escape(quoted(k))} = {html.escape(law.display_expression(v))}"
                        "</code></li>" for k, v in law.expressions.items())
        extra = f"<p>All outputs:</p><ul>{items}</ul>"
    record = json.dumps(law.record, indent=2, default=str)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{_CSS}</style></head><body>
<h1>{html.escape(title)}</h1>
<h2>Formula</h2>
<div class="formula" id="formula">{law.mathml()}</div>
<p>Plain text: <code id="expression">{html.escape(quoted(law.target))} = {html.escape(law.display_expression())}</code>
&nbsp; complexity {law.complexity}</p>
{_verdict(law)}
{extra}
{_alternatives(law)}
<h2>Errors: formula vs network vs data</h2>
{_error_table(law)}
<h2>Pareto front (complexity vs held-out error)</h2>
<p class="small">Selection rule: {html.escape(SELECTION_RULE)}.</p>
{_noise_form(law)}
{_pareto(law, figures)}
<h2>Residuals</h2>
{_residuals(law, figures)}
<h2>Structure</h2>
{_structure(law)}
<h2>Network and edges</h2>
{_network(law, figures)}
<h2>Run record</h2>
<pre>{html.escape(record)}</pre>
</body></html>
"""


def _structure(law, max_tests: int = 4) -> str:
    """The decomposition tree of ``record["structure"]`` (laws discovered without units): each
    node's variables, the step taken and why, the closest tests, and the leaves' formulas.
    Every name and formula comes from the data and is escaped."""
    rec = law.record.get("structure")
    if not isinstance(rec, dict):
        return "<p>No structure tests were run (units given, or a law from a KAN).</p>"
    if not rec.get("used"):
        return f"<p>No structure tests were needed: {html.escape(str(rec.get('why', '')))}.</p>"
    sur = rec.get("surrogate") or {}
    head = (f"<p>Surrogate: {html.escape(str(sur.get('model', '')))}; noise level (held-out MSE "
            f"relative to Var(y)) {_fmt(sur.get('relative_noise_variance'))} on "
            f"{_fmt(sur.get('heldout_rows'))} held-out rows.</p>"
            f"<p class=small>Rule: {html.escape(str(rec.get('rule', '')))}.</p>")
    tree = rec.get("tree")
    return head + ("<ul class=tree>" + _structure_node(tree, max_tests) + "</ul>" if isinstance(tree, dict) else "")


def _structure_node(node: dict, max_tests: int) -> str:
    names = ", ".join(str(v) for v in node.get("variables", []))
    kind = str(node.get("kind", ""))
    out = [f"<li><strong>{html.escape(kind)}</strong> in <code>{html.escape(names)}</code>: "
           f"{html.escape(str(node.get('why', '')))}"]
    step = node.get("step")
    if isinstance(step, dict):
        out.append(f"<p>step: <code>{html.escape(str(step.get('hypothesis', '')))}</code></p>")
    tests = [t for t in node.get("tests", []) if isinstance(t, dict)][:max_tests]
    if tests:
        rows = "".join(
            f"<tr><td class=l><code>{html.escape(str(t.get('hypothesis', '')))}</code></td>"
            f"<td>{_fmt(t.get('excess'))}</td><td>{_fmt(t.get('threshold'))}</td>"
            f"<td>{_fmt(t.get('gradient_statistic'))}</td>"
            f"<td class=l>{'accepted' if t.get('accepted') else 'rejected'}</td></tr>" for t in tests)
        out.append("<table><tr><th class=l>hypothesis</th><th>excess</th><th>threshold</th>"
                   "<th>gradient statistic</th><th class=l>decision</th></tr>" + rows + "</table>")
    formulas = node.get("formulas")
    if formulas:
        out.append("<p>leaf formulas: " + "; ".join(f"<code>{html.escape(str(f))}</code>" for f in formulas)
                   + "</p>")
    children = [c for c in node.get("children", []) if isinstance(c, dict)]
    if children:
        out.append("<ul>" + "".join(_structure_node(c, max_tests) for c in children) + "</ul>")
    return "".join(out) + "</li>"


def _alternatives(law) -> str:
    """The structurally different formulas the data support as well as the chosen law
    (``law.alternatives``), with the ambiguity note; nothing when there are none. Formulas,
    sources and the note name columns, which come from the data: all escaped."""
    if not law.alternatives:
        return ""
    chosen = [c for c in law.pareto if c.expr == law.expr][:1]  # its row, for comparison
    # An unknown term's law and its alternatives are judged in their equation, not on held-out rows.
    equation = law.record.get("equation") or {}
    judged = equation.get("residual")
    if judged:
        residual = float(equation.get("law_residual_mse", float("nan")))
        chosen = [Candidate(law.expr, "chosen in the equation", complexity(law.expr), residual, residual, math.nan)]
    rows = "".join(
        f"<tr{' class=chosen' if c in chosen else ''}><td>{c.complexity}</td><td>{_fmt(c.mse_test)}</td>"
        f"<td>{_fmt(c.r2_test)}</td><td class=l>{html.escape(c.source)}</td>"
        f"<td class=l><code>{html.escape(law.display_expression(c.expr))}</code></td></tr>"
        for c in chosen + law.alternatives)
    return ("<h2>Equally supported alternatives</h2>"
            f"<p>{html.escape(law.ambiguity[:1].upper() + law.ambiguity[1:])}. The chosen law "
            f"(shaded) stays; the others fit {'their equation' if judged else 'the held-out data'} as well.</p>"
            f"<table id=alternatives><tr><th>complexity</th><th>{html.escape(judged or 'held-out MSE')}</th>"
            "<th>R² test</th>"
            "<th class=l>source</th><th class=l>formula</th></tr>" + rows + "</table>")


def proportional_note(law) -> str:
    """One sentence when the law was chosen by its error in ``log|target|`` (noise proportional
    to the target, ``record["noise_form"]``), else ``""``."""
    form = law.record.get("noise_form") or {}
    if form.get("form") != "proportional":
        return ""
    evidence = form.get("log_evidence")
    why = ("as asked" if evidence is None else
           f"the rows are {evidence['proportional'] - evidence['additive']:.0f} nats likelier so than with "
           "additive noise")
    return (f"The noise is proportional to {quoted(law.target)} ({why}): formulas were searched, chosen and "
            f"judged by their error in log|{quoted(law.target)}| (the Pareto front's held-out errors are of it).")


def _noise_form(law) -> str:
    note = proportional_note(law)
    return f'<p class="small">{html.escape(note)}</p>' if note else ""


def _verdict(law) -> str:
    if law.verdict == "law found":
        return ""
    if law.verdict == "doubtful":
        return ('<p class="verdict"><strong>Doubtful:</strong> '
                f"{html.escape(doubt(law.metrics))}; the data hold structure this formula misses. It is the "
                "best candidate found, not a law.</p>")
    return ('<p class="verdict"><strong>No law found:</strong> no formula beats the mean of the '
            "target on held-out data (R² test &le; 0). The formula above is the best candidate, "
            "not a law.</p>")


def write_report(law, path) -> pathlib.Path:
    """Write :func:`render_html` to ``path`` (parent folders created)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(law), encoding="utf-8")
    return path
