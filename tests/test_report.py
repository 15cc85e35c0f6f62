"""The law report: self-contained HTML that renders in a headless browser with the formula."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from sciml.report import render_html, write_report
from sciml.symbolic import symbolify

from test_symbolic import HELLO


@pytest.fixture(scope="module")
def law():
    X = np.random.default_rng(0).uniform(-1, 1, (400, 2))
    return symbolify(HELLO, X, inputs=["x", "y"], target="f")


def test_report_is_self_contained(law):
    page = render_html(law)
    assert "<math" in page and "exp(y**2 + sin(pi*x))" in page
    # offline: no external scripts, styles or images
    assert not re.search(r'(src|href)="(https?:)?//', page)
    for section in ("Pareto front", "Residuals", "Network and edges", "Run record", "data_hash"):
        assert section in page
    assert page.count("data:image/png;base64,") >= 3  # pareto, residuals, network + edges


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium not installed "
                    "(Debian: apt-get install -y chromium); the rendering check needs a browser")
def test_report_renders_in_headless_chromium(law, tmp_path):
    path = write_report(law, tmp_path / "report.html")
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-background-networking", "--disable-component-update", "--no-first-run",
           f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", path.as_uri()]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    assert "<math" in dom, "the formula's MathML is missing from the rendered page"
    assert "<mi>sin</mi>" in dom and "<mi>π</mi>" in dom or "&pi;" in dom or "π" in dom
    assert "exp(y**2 + sin(pi*x))" in dom
