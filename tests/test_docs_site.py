"""The documentation site: `mkdocs build --strict` passes, every page is in the nav, pictures are drawn.

Skips without MkDocs (the `docs` extra), except in CI, where it must be installed.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _needs(module: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail(f"{module} is not installed in CI; .ci/run must install the docs extra")
        pytest.skip(f"{module} is not installed (python -m pip install \".[docs]\")")


def _nav_pages(entries) -> list[str]:
    pages = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += _nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_every_page_is_in_the_nav_once():
    yaml = _needs("yaml")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    pages = _nav_pages(config["nav"])
    on_disk = sorted(str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md"))
    assert sorted(pages) == on_disk
    assert len(pages) == len(set(pages))
    assert "tutorial/first-derivation.md" in pages


def test_the_site_builds_strictly(tmp_path):
    _needs("mkdocs")
    _needs("matplotlib")  # the hook draws the pictures
    site = tmp_path / "site"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                           str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr
    for page in ["index.html", "tutorial/first-derivation/index.html", "how-to/draw-pictures/index.html",
                 "reference/cli/index.html", "reference/api/index.html", "explanation/architecture/index.html"]:
        assert (site / page).is_file(), page
    tutorial = (site / "tutorial/first-derivation/index.html").read_text(encoding="utf-8")
    assert "../../images/two_neurons-circuit.svg" in tutorial
    for picture in ["two_neurons-circuit.svg", "mazur-circuit.svg", "sigmoid_circuit-circuit.svg",
                    "perceptron-loss.svg"]:
        root = ET.parse(site / "images" / picture).getroot()
        assert root.tag == "{http://www.w3.org/2000/svg}svg", picture
    mazur = "".join(ET.parse(site / "images/mazur-circuit.svg").getroot().itertext())
    assert "out_o1" in mazur and "0.7414" in mazur
