"""The repository's own text: nothing a merge left behind reaches a user."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
TEXT = {".md", ".py", ".toml", ".ipynb", ".sh", ".cfg", ".txt", ".yaml", ".yml"}
SKIP = {".git", "runs", "build", "dist", ".venv", "node_modules", ".pytest_cache"}
# A conflict marker is seven of <, = or > alone at the start of a line (the = line bare).
MARKER = re.compile(r"^(<{7} |>{7} |={7}$)", re.MULTILINE)


def _text_files():
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if any(p in SKIP or p.endswith(".egg-info") for p in parts):
            continue
        if path.is_file() and path.suffix in TEXT:
            yield path


def test_no_merge_conflict_markers_in_the_repository():
    files = list(_text_files())
    assert any(p.name == "README.md" for p in files)
    marked = [str(p.relative_to(ROOT)) for p in files
              if MARKER.search(p.read_text(encoding="utf-8", errors="replace"))]
    assert not marked, f"merge conflict markers left in: {marked}"
