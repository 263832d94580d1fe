"""Grading a class: each student's sheet against the student's own variant, with marks per question.

``grade_class(folder, sheets)`` is what ``symgrad check --variants DIR SHEET...`` runs. The
variant of a sheet is named on it (a line ``variant: 03`` or ``# variant: 03``) or in its file
name (``variant-03.txt``, ``anna-v03.txt``); the sheet is judged by ``check_claims`` against
``DIR/variant-03/spec.toml``, and each question of ``DIR/marks.toml`` earns its marks when every
line answering it is right. *Follow-through* (on unless ``marks.toml`` says ``follow_through = false``
or ``symgrad check --no-follow-through``): a line wrong only because it used an earlier wrong
answer (verdict ``consistent-with-earlier``) counts as right; without it, it earns nothing. The CSV summary and the annotated sheets are ``claim_sheets``'.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tomllib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Sequence

from .claim_parser import parse_claims, read_claims_file
from .claim_report import RIGHT_VERDICTS
from .claim_sheets import Sheet, check_sheets, summary_csv, write_annotated
from .errors import InvalidArgument, SpecError
from .files import write_text
from .graph import Network
from .limits import MAX_CLAIMS_TEXT
from .spec import load

__all__ = ["GradedSheet", "sheet_variant", "read_marks", "read_follow_through", "grade_sheets", "grade_class",
           "FOLLOW_THROUGH_VERDICT"]

#: The verdict of a line wrong only from an earlier slip: marked right only with follow-through.
FOLLOW_THROUGH_VERDICT = "consistent-with-earlier"

_LINE = re.compile(r"^[ \t]*#?[ \t]*variant[ \t]*[:=][ \t]*([0-9]+)[ \t]*$", re.I | re.M)
_NAME = re.compile(r"(?:^|[^A-Za-z])(?:variant|v)[-_ ]?([0-9]+)", re.I)


@dataclass(frozen=True)
class GradedSheet:
    """A sheet judged against its variant, with the marks it earned out of the marks possible."""

    sheet: Sheet
    variant: str
    marks: Fraction
    out_of: Fraction
    per_question: tuple[tuple[str, Fraction], ...]


def sheet_variant(source: str, text: str) -> int:
    """The variant a sheet names: its line ``variant: 03`` (or ``# variant: 03``), else its file name.

    >>> sheet_variant("anna.txt", "# variant: 03\\nnet_h1 = 0.3775"), sheet_variant("variant-07.txt", "")
    (3, 7)
    """
    on_sheet = {int(m.group(1)) for m in _LINE.finditer(text)}
    named = _NAME.search(Path(source).stem)
    if len(on_sheet) > 1:
        raise InvalidArgument(f"{source}: the sheet names variants {', '.join(map(str, sorted(on_sheet)))}; keep one "
                              "line `variant: NN`")
    if on_sheet and named and int(named.group(1)) not in on_sheet:
        raise InvalidArgument(f"{source}: the sheet says variant {on_sheet.pop()} but its file name says "
                              f"{named.group(1)}; correct one of them")
    if on_sheet:
        return on_sheet.pop()
    if named:
        return int(named.group(1))
    raise InvalidArgument(f"{source}: no variant named; add a first line `variant: 03` (the student's variant) or "
                          "name the file variant-03.txt")


def _variants(folder: Path) -> dict[int, Path]:
    found = {int(p.name.removeprefix("variant-")): p for p in sorted(folder.glob("variant-*"))
             if p.name.removeprefix("variant-").isdigit() and (p / "spec.toml").is_file()}
    if not found:
        raise InvalidArgument(f"{folder} holds no variant-NN/spec.toml; give the folder `symgrad exercise` wrote "
                              "with -o")
    return found


def _marks_data(folder: str | Path) -> tuple[dict, str]:
    """The parsed ``folder/marks.toml`` (empty when there is none) and its path."""
    path = Path(folder) / "marks.toml"
    if not path.is_file():
        return {}, str(path)
    try:
        if path.stat().st_size > MAX_CLAIMS_TEXT:
            raise SpecError(f"the file is over {MAX_CLAIMS_TEXT:,} bytes; a marks file has a line per question",
                            source=str(path))
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"cannot read the marks ({exc}); write lines such as \"dE_total/dw5\" = 2 under [marks]",
                        source=str(path)) from None
    for key in data:
        if key not in ("marks", "follow_through"):
            raise SpecError("unknown key; a marks file has follow_through = true|false and a table [marks]",
                            source=str(path), key=key)
    return data, str(path)


def read_follow_through(folder: str | Path) -> bool:
    """Whether ``folder/marks.toml`` gives follow-through marks (``follow_through``, true unless it says false)."""
    data, path = _marks_data(folder)
    value = data.get("follow_through", True)
    if not isinstance(value, bool):
        raise SpecError(f"follow_through is {value!r}; write follow_through = true (a line wrong only from an "
                        "earlier slip earns its marks) or false", source=path, key="follow_through")
    return value


def read_marks(folder: str | Path) -> dict[str, Fraction]:
    """The marks per question of ``folder/marks.toml`` (left side → marks); empty when there is no file."""
    data, path = _marks_data(folder)
    marks = data.get("marks", {})
    if not isinstance(marks, dict):
        raise SpecError("expected a table [marks] of lines such as \"dE_total/dw5\" = 2", source=str(path),
                        key="marks")
    result = {}
    for lhs, value in marks.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise SpecError(f"the marks of {lhs!r} are {value!r}; give a number 0 or more", source=str(path),
                            key=f"marks.{lhs}")
        result[lhs] = Fraction(str(value))
    return result


def _key(lhs: str, network: Network):
    claims = parse_claims(f"{lhs} = 0", network)
    return (claims[0].name, claims[0].wrt, claims[0].steps) if claims and not claims[0].problem else lhs


def _marks(sheet: Sheet, network: Network, marks: dict[str, Fraction], *,
           follow_through: bool = True) -> tuple[tuple[str, Fraction], ...]:
    """Marks earned per question: all of them when every line answering it is right (a line wrong only from
    an earlier slip counts as right with ``follow_through``), else none."""
    counted = RIGHT_VERDICTS if follow_through else tuple(v for v in RIGHT_VERDICTS if v != FOLLOW_THROUGH_VERDICT)
    verdicts: dict[object, list[str]] = {}
    for row in sheet.report.rows:
        verdicts.setdefault(_key(row.claim, network), []).append(row.verdict)
    earned = []
    for lhs, worth in marks.items():
        got = verdicts.get(_key(lhs, network), [])
        earned.append((lhs, worth if got and all(v in counted for v in got) else Fraction(0)))
    return tuple(earned)


def grade_sheets(folder: str | Path, sheets: Sequence[tuple[str, str]], *, rounding: str = "half-up",
                 follow_through: bool | None = None) -> tuple[GradedSheet, ...]:
    """Judge each (source, text) against the variant it names, in ``folder`` (as ``symgrad exercise`` wrote it);
    ``follow_through`` None reads it from ``marks.toml`` (true when not given)."""
    root = Path(folder)
    variants = _variants(root)
    marks = read_marks(root)
    follow_through = read_follow_through(root) if follow_through is None else follow_through
    networks: dict[int, Network] = {}
    graded = []
    for source, text in sheets:
        number = sheet_variant(source, text)
        if number not in variants:
            raise InvalidArgument(f"{source}: there is no variant {number} in {root}; its variants are "
                                  f"{', '.join(p.name.removeprefix('variant-') for p in variants.values())}")
        network = networks.setdefault(number, load(variants[number] / "spec.toml"))
        plain = _LINE.sub(lambda m: f"# variant: {m.group(1)}", text)  # the id line, as a comment (same line count)
        (sheet,) = check_sheets(network, [(source, plain)], rounding=rounding)
        per = _marks(sheet, network, marks, follow_through=follow_through)
        graded.append(GradedSheet(sheet, variants[number].name.removeprefix("variant-"), sum((m for _, m in per),
                                  Fraction(0)), sum(marks.values(), Fraction(0)), per))
    return tuple(graded)


def _number(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):g}"


def class_csv(graded: Sequence[GradedSheet]) -> str:
    """``claim_sheets.summary_csv`` with the variant, the marks, the marks possible and the marks of each
    question (a column ``marks: LHS`` each) added to every row."""
    rows = list(csv.reader(io.StringIO(summary_csv([g.sheet for g in graded]))))
    questions = [lhs for lhs, _ in graded[0].per_question] if graded else []
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*rows[0], "variant", "marks", "out_of", *(f"marks: {q}" for q in questions)])
    for row, g in zip(rows[1:], graded):
        writer.writerow([*row, g.variant, _number(g.marks), _number(g.out_of), *(_number(m) for _, m in g.per_question)])
    return out.getvalue()


def grade_class(folder: str | Path, paths: Sequence[str], *, rounding: str = "half-up", output_format: str = "text",
                summary: str | None = None, annotate: str | None = None,
                follow_through: bool | None = None) -> tuple[str, int]:
    """What ``symgrad check --variants DIR SHEET...`` prints and its exit status (0 every claim right, 1 otherwise)."""
    graded = grade_sheets(folder, [(str(p), read_claims_file(p)) for p in paths], rounding=rounding,
                          follow_through=follow_through)
    inputs = [*paths, Path(folder) / "marks.toml"]
    if summary is not None:
        write_text(summary, class_csv(graded), inputs=inputs)
    if annotate is not None:
        write_annotated(annotate, [g.sheet for g in graded], inputs=inputs)
    status = 0 if all(g.sheet.report.ok for g in graded) else 1
    if output_format == "json":
        data = [{"sheet": g.sheet.source, "variant": g.variant, "marks": _number(g.marks), "out_of": _number(g.out_of),
                 **json.loads(g.sheet.report.to_json())} for g in graded]
        return json.dumps({"ok": status == 0, "sheets": data}, indent=2, ensure_ascii=False) + "\n", status
    return "\n".join(f"== {g.sheet.source} (variant {g.variant}): {_number(g.marks)} of {_number(g.out_of)} marks ==\n"
                     f"{g.sheet.report.to_text()}" for g in graded), status
