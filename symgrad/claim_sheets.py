"""A whole class: many sheets judged against one spec, a CSV summary, and each sheet annotated.

``check_sheets`` judges every file; ``summary_csv`` writes one row per sheet (the count of
each verdict, the first slip, the score); ``annotate_markdown`` and ``annotate_latex`` give
a sheet back with the verdict and explanation beside each line, to return to the student.
``check_files`` is what ``symgrad check SPEC FILE...`` runs; every file is written by
``files.write_text`` (whole or not at all, never over an input).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .claim_parser import read_claims_file
from .claim_report import CLAIM_VERDICTS, RIGHT_VERDICTS, ClaimsReport
from .claims import check_claims
from .errors import InvalidArgument
from .files import write_text
from .graph import Network

__all__ = ["Sheet", "check_sheets", "summary_csv", "annotate_markdown", "annotate_latex", "write_annotated",
           "check_files"]

_MARK = {"right": "✓", "wrong": "✗", "unreadable": "?", "undecided": "?"}


@dataclass(frozen=True)
class Sheet:
    """One person's claims file: where it came from, its text, and its report."""

    source: str
    text: str
    report: ClaimsReport


def check_sheets(network: Network, sheets: Sequence[tuple[str, str]], *, rounding: str = "half-up") -> tuple[Sheet, ...]:
    """Judge each (source, text) pair against ``network``, in the order given.

    >>> import symgrad
    >>> [s.report.ok for s in check_sheets(symgrad.load("two_neurons"), [("a", "h = -7"), ("b", "h = 7")])]
    [True, False]
    """
    return tuple(Sheet(source, text, check_claims(network, text, source=source, rounding=rounding))
                 for source, text in sheets)


def summary_csv(sheets: Sequence[Sheet]) -> str:
    """One CSV row per sheet: claims, the count of each verdict, the first slip and the score (share right).

    >>> import symgrad
    >>> print(summary_csv(check_sheets(symgrad.load("two_neurons"), [("a.txt", "h = -7")])).splitlines()[1])
    a.txt,1,1,0,0,0,0,0,0,0,,,1.000
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["sheet", "claims", *CLAIM_VERDICTS, "first_slip_line", "first_slip", "score"])
    for sheet in sheets:
        report = sheet.report
        slip = report.first_slip
        counts = report.counts
        writer.writerow([sheet.source, len(report.rows), *(counts[v] for v in CLAIM_VERDICTS),
                         slip.line if slip else "", f"{slip.claim} = {slip.claimed}: {slip.explanation}" if slip else "",
                         f"{report.score:.3f}"])
    return out.getvalue()


def _rows_by_line(report: ClaimsReport) -> dict[int, list]:
    rows: dict[int, list] = {}
    for row in report.rows:
        rows.setdefault(row.line, []).append(row)
    return rows


def _mark(verdict: str) -> str:
    return "✓" if verdict in RIGHT_VERDICTS else _MARK.get(verdict, "✗")


def annotate_markdown(sheet: Sheet) -> str:
    """The sheet back as Markdown: every line as written, with each claim's verdict and explanation beside it.

    >>> import symgrad
    >>> (s,) = check_sheets(symgrad.load("two_neurons"), [("a.txt", "h = 7")])
    >>> annotate_markdown(s).splitlines()[4]
    '| 1 | `h = 7` | ✗ wrong | a sign error: the value is -7, the opposite sign (confidence 0.93) |'
    """
    rows = _rows_by_line(sheet.report)
    lines = [f"# {_md(sheet.source)}", "", "| line | as written | verdict | explanation |", "|---|---|---|---|"]
    for number, raw in enumerate(re.split(r"\r\n|\n|\r", sheet.text), start=1):
        if not raw.strip():
            continue
        judged = rows.get(number)
        if not judged:
            lines.append(f"| {number} | `{_code(raw)}` | | |")
            continue
        for k, row in enumerate(judged):
            written = f"`{_code(raw)}`" if k == 0 else f"(stage {k + 1}: `{_code(row.claimed)}`)"
            lines.append(f"| {number} | {written} | {_mark(row.verdict)} {row.verdict} | {_md(row.stated)} |")
    lines += ["", _md(sheet.report.summary()), ""]
    return "\n".join(lines)


def annotate_latex(sheet: Sheet) -> str:
    """The sheet back as a LaTeX document (a longtable), for a printed copy."""
    rows = _rows_by_line(sheet.report)
    body = []
    for number, raw in enumerate(re.split(r"\r\n|\n|\r", sheet.text), start=1):
        for k, row in enumerate(rows.get(number, [])):
            written = _tex(raw.strip()) if k == 0 else _tex(row.claimed)
            body.append(f"{number} & \\texttt{{{written}}} & {_tex(row.verdict)} & {_tex(row.stated)} \\\\")
    return ("\\documentclass{article}\n\\usepackage[utf8]{inputenc}\n\\usepackage{longtable}\n"
            "\\begin{document}\n"
            f"\\section*{{{_tex(sheet.source)}}}\n"
            "\\begin{longtable}{r p{0.3\\textwidth} l p{0.4\\textwidth}}\n"
            "line & as written & verdict & explanation \\\\ \\hline\n" + "\n".join(body) + "\n"
            "\\end{longtable}\n\n" + _tex(sheet.report.summary()) + "\n\\end{document}\n")


def _code(text: str) -> str:
    return text.strip().replace("`", "'").replace("|", "\\|")


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _tex(text: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in text)


def _annotated_names(sheets: Sequence[Sheet]) -> list[str]:
    """A distinct file stem per sheet (two sheets named a.txt in different folders: a, a-2)."""
    seen: dict[str, int] = {}
    names = []
    for sheet in sheets:
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", Path(sheet.source).stem) or "sheet"
        seen[stem] = seen.get(stem, 0) + 1
        names.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return names


def write_annotated(annotate: str | Path, sheets: Sequence[Sheet], *, inputs: Sequence) -> None:
    """Each sheet back as ``NAME.md`` and ``NAME.tex`` in the folder ``annotate`` (made if missing), one
    distinct name per sheet, never over one of ``inputs``."""
    folder = Path(annotate)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidArgument(f"cannot make the folder {annotate}: {exc.strerror}; choose another with "
                              "--annotate") from None
    for sheet, name in zip(sheets, _annotated_names(sheets)):
        write_text(folder / f"{name}.md", annotate_markdown(sheet), inputs=inputs)
        write_text(folder / f"{name}.tex", annotate_latex(sheet), inputs=inputs)


def check_files(network: Network, paths: Sequence[str], *, rounding: str = "half-up", output_format: str = "text",
                summary: str | None = None, annotate: str | None = None, spec: str | None = None) -> tuple[str, int]:
    """What ``symgrad check SPEC FILE...`` prints and its exit status (0 every claim right, 1 otherwise).

    ``summary`` names a CSV file to write; ``annotate`` a folder for each sheet as Markdown and LaTeX.
    """
    sheets = check_sheets(network, [(str(p), read_claims_file(p)) for p in paths], rounding=rounding)
    inputs = [*paths, spec]
    if summary is not None:
        write_text(summary, summary_csv(sheets), inputs=inputs)
    if annotate is not None:
        write_annotated(annotate, sheets, inputs=inputs)
    status = 0 if all(s.report.ok for s in sheets) else 1
    if output_format == "json":
        if len(sheets) == 1:
            return sheets[0].report.to_json(), status
        data = [{"sheet": s.source, **json.loads(s.report.to_json())} for s in sheets]
        return json.dumps({"ok": status == 0, "sheets": data}, indent=2, ensure_ascii=False) + "\n", status
    if len(sheets) == 1:
        return sheets[0].report.to_text(), status
    return "\n".join(f"== {s.source} ==\n{s.report.to_text()}" for s in sheets), status
