"""pdflatex for the document tests: skipped with a reason where it is missing, a failure under CI."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

INSTALL = "apt-get install texlive-latex-base (Debian/Ubuntu)"
BEAMER_INSTALL = "apt-get install texlive-latex-recommended texlive-pictures (Debian/Ubuntu: beamer.cls and pgf)"


def pdflatex() -> str:
    """The pdflatex executable; skip without it, but fail when the CI variable is set (CI must not skip)."""
    path = shutil.which("pdflatex")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but pdflatex is not on PATH; .ci/run must install it: {INSTALL}")
        pytest.skip(f"pdflatex is not on PATH; to compile the LaTeX reports: {INSTALL}")
    return path


def needs_beamer() -> None:
    """Skip without the Beamer class (and the pgf it loads); fail when the CI variable is set."""
    kpsewhich = shutil.which("kpsewhich")
    found = kpsewhich and all(subprocess.run([kpsewhich, name], capture_output=True, text=True).stdout.strip()
                              for name in ("beamer.cls", "pgfmath.sty"))
    if not found:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but the Beamer class is missing; .ci/run must install it: {BEAMER_INSTALL}")
        pytest.skip(f"the Beamer class is not installed: {BEAMER_INSTALL}")


def compile_latex(source: str, directory: Path, *, name: str = "report") -> tuple[Path, str, list[str]]:
    """Compile ``source`` with pdflatex (no shell escape, file recorder on); return (pdf, log, files read)."""
    tex = directory / f"{name}.tex"
    tex.write_text(source, encoding="utf-8")
    proc = subprocess.run([pdflatex(), "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape",
                           "-recorder", tex.name], cwd=directory, capture_output=True, text=True, timeout=120)
    log = (directory / f"{name}.log").read_text(encoding="latin-1") if (directory / f"{name}.log").exists() else ""
    assert proc.returncode == 0, f"pdflatex failed:\n{proc.stdout[-3000:]}"
    fls = (directory / f"{name}.fls").read_text(encoding="latin-1").splitlines()
    inputs = [line.split(" ", 1)[1] for line in fls if line.startswith("INPUT ")]
    return directory / f"{name}.pdf", log, inputs


def pdf_text_pages(pdf: Path) -> list[list[str]]:
    """Each page's non-blank lines as ``pdftotext -layout`` reads them; skip without poppler-utils, fail under CI."""
    if shutil.which("pdftotext") is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but pdftotext is missing; .ci/run must install poppler-utils")
        pytest.skip("pdftotext is not on PATH: apt-get install poppler-utils")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return [[line.strip() for line in page.splitlines() if line.strip()] for page in text.split("\f")[:-1]]
