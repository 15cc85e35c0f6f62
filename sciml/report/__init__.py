"""Self-contained HTML reports (no network, no JavaScript): laws with their evidence."""

from .law_report import render_html, write_report

__all__ = ["render_html", "write_report"]
