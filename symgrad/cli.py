"""The ``symgrad`` command: parses arguments and calls the library; no logic of its own."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from .chain import derive
from .claim_sheets import check_files
from .claims import ROUNDINGS
from .errors import InvalidArgument, MissingDependency, SpecError, SymgradError
from .exercise import make_exercise
from .exercise_documents import write_exercise
from .exercise_grading import grade_class
from .files import same_file, write_text
from .finite_differences import SCHEMES
from .fitting import compile_network
from .fused_module import FusedGradient
from .point_file import read_point_file
from .gradient_check import gradcheck
from .render.picture import PICTURE_FORMATS, draw_circuit, plot_sweep
from .render.text import printable
from .reporting import FORMATS, picture_title, plot_training, render_training, report, train_network
from .solution import solve
from .spec import builtin_examples, load
from .step_sweep import sweep_hvp_steps, sweep_steps
from .train import UPDATE_RULES
from .user_gradient import load_gradient_function

__all__ = ["main"]


def _digits(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer; give a number of digits such as 9") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"{value} is out of range; give 1 to 1000 digits")
    return value


def _digits_for(text: str) -> dict[str, int]:
    """NAME=N[,NAME=N…]: significant digits for chosen quantities."""
    chosen: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, digits = item.partition("=")
        if not sep or not name.strip():
            raise argparse.ArgumentTypeError(f"{item!r} is not NAME=DIGITS; write for example E_total=12,w5=4")
        chosen[name.strip()] = _digits(digits.strip())
    return chosen


def _cmd_examples(args: argparse.Namespace) -> str:
    examples = builtin_examples()
    width = max(len(e.name) for e in examples)
    return "".join(f"{e.name.ljust(width)}  {e.description}\n" for e in examples)


def _naming_spec(run):
    """Errors found after loading (deriving, evaluating, compiling) name the spec they came from."""

    def wrapped(args: argparse.Namespace) -> str:
        try:
            return run(args)
        except (SpecError, MissingDependency):  # already name their file, or are about the install
            raise
        except SymgradError as exc:
            raise SpecError(str(exc), source=str(args.spec)) from None
        except RecursionError:
            raise SpecError("the network is nested too deeply to process", source=str(args.spec)) from None

    return wrapped


def _inputs(args: argparse.Namespace) -> list[str]:
    """The files a command reads (its spec, a claims file, the --against module, the --at values): never written over."""
    found = [str(args.spec)]
    if getattr(args, "against", None):
        found.append(args.against.rsplit(":", 1)[0])
    if getattr(args, "at", None):
        found.append(args.at)
    return found


@_naming_spec
def _cmd_report(args: argparse.Namespace) -> str:
    network = load(args.spec)
    params = None
    if args.params is not None:
        params = [p.strip() for p in args.params.split(",") if p.strip()]
    text = report(network, digits=args.digits, format=args.format, title=args.title, author=args.author,
                  date=args.date, round_intermediates=args.round_intermediates, update_rule=args.update_rule,
                  params=params, decimals=args.decimals, digits_for=args.digits_for,
                  hessian=None if args.hessian is None else [p.strip() for p in args.hessian.split(",") if p.strip()])
    if args.output is None:
        return text
    if same_file(args.spec, args.output) or Path(args.output).suffix == ".toml":
        raise SymgradError(f"refusing to write the report over {args.output}; choose an output such as "
                           f"report.{'tex' if args.format in ('latex', 'beamer') else 'md'} with -o")
    write_text(args.output, text, inputs=_inputs(args))
    return f"wrote {args.output}: {args.format} report of {args.spec}\n"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _picture_file(text: str) -> str:
    if Path(text).suffix.lower().lstrip(".") not in PICTURE_FORMATS:
        raise argparse.ArgumentTypeError(f"{text!r} must end in .svg or .png, such as graph.svg")
    return text


@_naming_spec
def _cmd_compile(args: argparse.Namespace) -> str:
    if same_file(args.spec, args.output) or (Path(args.output).suffix == ".toml"):
        raise SymgradError(f"refusing to write generated Python over {args.output}; choose an output such as "
                           f"grad.py with -o")
    network = load(args.spec)
    compiled = compile_network(network, form=args.form, reduction=args.reduction, backend=args.backend)
    write_text(args.output, compiled.source, inputs=_inputs(args))
    note = compiled.note if isinstance(compiled, FusedGradient) else ""  # why numba wrote a NumPy module
    return (f"wrote {args.output}: value_and_grad for {len(compiled.params)} parameter arrays ({compiled.form} form)"
            + (f"; {note}" if note else "") + "\n")


@_naming_spec
def _cmd_train(args: argparse.Namespace) -> str:
    network = load(args.spec)
    result = train_network(network, steps=args.steps, batch_size=args.batch_size, learning_rate=args.learning_rate,
                           seed=args.seed, form=args.form)
    if args.plot:
        plot_training(result, args.plot, inputs=_inputs(args))
    return render_training(result, format=args.format)


_POINT_ERRORS = ("at", "cannot set", "value of")  # gradcheck's errors about the values it was given (at=)


def _shortened(text: str, limit: int = 600) -> str:
    """An error about a file's values, at most ``limit`` characters: its start and its end (the fix) kept."""
    return text if len(text) <= limit else f"{text[:limit // 2]} … {text[-limit // 4:]}"


def _cmd_gradcheck(args: argparse.Namespace) -> tuple[str, int]:
    args.against_function = load_gradient_function(args.against) if args.against else None
    args.point = read_point_file(args.at) if args.at is not None else None  # --at "" is an error, not no --at
    return _gradcheck_spec(args)


@_naming_spec
def _gradcheck_spec(args: argparse.Namespace) -> tuple[str, int]:
    """gradcheck on the loaded spec; its errors name the spec (the --against file's own errors name that file)."""
    network = load(args.spec)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = gradcheck(network, against=args.against_function, at=args.point, scheme=args.scheme,
                               step=args.step, sample=args.sample, directions=args.directions, seed=args.seed,
                               order=args.order)
        except SymgradError as exc:  # a value of the --at file that does not fit the network: name that file
            if args.at and str(exc).startswith(_POINT_ERRORS):  # it may repeat a name or a value of any length
                raise SpecError(_shortened(str(exc)), source=f"--at {args.at}") from None
            raise
        except OverflowError:  # a step or an error bound past float64 at huge values (finite_differences)
            raise SpecError("the check overflows float64 at these values; give values of smaller magnitude",
                            source=f"--at {args.at}" if args.at else str(args.spec)) from None
    for warning in caught:
        print(f"symgrad: warning: {warning.message}", file=sys.stderr)
    text = result.to_json() if args.format == "json" else result.table()
    if args.plot:
        sweep = (sweep_hvp_steps(network, at=args.point) if args.order == 2 else  # the FD H·v's error
                 sweep_steps(network, scheme="central" if args.scheme == "complex" else args.scheme, at=args.point))
        plot_sweep(sweep, args.plot, title=picture_title(network), inputs=_inputs(args))
        if args.format == "text":
            text += f"{sweep.summary()}; plot saved to {args.plot}\n"
    return text, 0 if result.ok else 1


@_naming_spec
def _cmd_graph(args: argparse.Namespace) -> str:
    network = load(args.spec)
    drawn = draw_circuit(solve(derive(network), digits=args.digits), args.output, title=picture_title(network),
                         definitions=args.definitions, inputs=_inputs(args))
    return f"wrote {args.output}: {len(drawn.quantities)} quantities in {drawn.layers} layers\n"


def _cmd_check(args: argparse.Namespace) -> tuple[str, int]:
    if args.variants is not None:  # every file is a sheet; its variant is named on it or in its name
        return grade_class(args.variants, [args.spec, *args.claims], rounding=args.rounding,
                           output_format=args.format, summary=args.summary, annotate=args.annotate,
                           follow_through=False if args.no_follow_through else None)
    if args.no_follow_through:
        raise InvalidArgument("--no-follow-through sets how an exercise's marks are counted; use it with --variants DIR")
    if not args.claims:
        raise InvalidArgument(f"no claims file after {args.spec}; give SPEC CLAIMS... (or --variants DIR SHEET...)")
    return check_files(load(args.spec), args.claims, rounding=args.rounding, output_format=args.format,
                       summary=args.summary, annotate=args.annotate, spec=args.spec)


def _cmd_exercise(args: argparse.Namespace) -> str:
    exercise = make_exercise(args.spec, args.variants, seed=args.seed)
    written = write_exercise(exercise, args.output, moodle=args.moodle, inputs=_inputs(args))
    return (f"wrote {len(exercise.variants)} variants of {args.spec} (seed {args.seed}) to {args.output}: "
            f"{len(written)} files, questions.tex to print\n")


def _add_exercise(sub) -> None:
    p = sub.add_parser("exercise", help="write variants of a spec with new nice values: questions, solutions, keys")
    p.add_argument("spec", metavar="EXAMPLE_OR_SPEC")
    p.add_argument("--variants", type=_positive_int, required=True, metavar="N", help="how many variants")
    p.add_argument("--seed", type=int, default=0, help="seed of the draw (default 0; the same seed, the same variants)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="the folder to write (made if missing)")
    p.add_argument("--moodle", metavar="FILE.xml", default=None, help="also write the questions as Moodle XML")
    p.set_defaults(run=_cmd_exercise)


def _add_gradcheck(sub) -> None:
    p = sub.add_parser("gradcheck", help="exact vs compiled vs finite differences, each disagreement explained")
    p.add_argument("spec", metavar="EXAMPLE_OR_SPEC")
    p.add_argument("--against", metavar="FILE:FUNC", help="also check FUNC(values) -> {param: gradient} in FILE")
    p.add_argument("--scheme", choices=tuple(SCHEMES), default="central", help="default central")
    p.add_argument("--step", type=float, default=None, help="one step for every coordinate (default: optimal each)")
    p.add_argument("--sample", type=_positive_int, default=None, help="coordinates to check (default: all up to 100)")
    p.add_argument("--directions", type=int, default=None, help="random directions (default 3 when sampling)")
    p.add_argument("--seed", type=int, default=0, help="seed for the sample and the directions (default 0)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--plot", metavar="FILE", help="save the step-size sweep as FILE.svg or FILE.png")
    p.add_argument("--at", metavar="FILE.npz", default=None,
                   help="check at these values (numpy.savez): a number per leaf name, or a matrix-form network's "
                        "W1, b1, ..., inputs, targets and reduction")
    p.add_argument("--order", type=int, choices=(1, 2), default=1,
                   help="1 (default): gradients; 2: Hessian-vector products (--against FUNC(values, v) or FUNC(values))")
    p.set_defaults(run=_cmd_gradcheck)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="symgrad", description="Exact, symbolic backpropagation.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("examples", help="list the built-in examples")
    p.set_defaults(run=_cmd_examples)
    p = sub.add_parser("report", help="forward pass, chain-rule derivation, gradients and update")
    p.add_argument("spec", metavar="EXAMPLE_OR_SPEC", help="a built-in example name or a .toml spec file")
    p.add_argument("--digits", type=_digits, default=9, help="significant digits (default 9)")
    p.add_argument("--decimals", type=_digits, default=None,
                   help="print N decimal places instead, trailing zeros dropped, as the lectures print")
    p.add_argument("--digits-for", metavar="NAME=N,...", type=_digits_for, default=None,
                   help="significant digits (decimal places with --decimals) for chosen quantities (their value, δ, "
                        "gradient and update), over the spec's [digits]; e.g. E_total=12,w5=4")
    p.add_argument("--format", choices=FORMATS, default="text",
                   help="text (default), json, latex (a standalone article for pdflatex), beamer (lecture slides "
                        "for pdflatex) or markdown")
    p.add_argument("-o", "--output", default=None, help="write the report to this file instead of stdout")
    p.add_argument("--title", default=None, help="the document's title (default: the spec's title, or its description)")
    p.add_argument("--author", default=None, help="the author line of a LaTeX, Beamer or Markdown document")
    p.add_argument("--date", default=None, help="the date line of a LaTeX, Beamer or Markdown document")
    p.add_argument("--params", default=None, metavar="P1,P2",
                   help="show only these parameters' gradients and updates, e.g. w5,w1 (default: all)")
    p.add_argument("--round-intermediates", action="store_true",
                   help="round every intermediate to --digits as it is produced, as a person does by hand")
    p.add_argument("--update-rule", choices=UPDATE_RULES, default="simultaneous",
                   help="simultaneous (default): every gradient at the old parameters; layerwise: output layer first")
    p.add_argument("--hessian", default=None, metavar="P1,P2",
                   help="write the second derivatives of these parameters (every pair) step by step instead, e.g. w5,w6")
    p.set_defaults(run=_cmd_report)
    p = sub.add_parser("compile", help="write a standalone NumPy module with value_and_grad")
    p.add_argument("spec", metavar="EXAMPLE_OR_SPEC")
    p.add_argument("-o", "--output", required=True, help="the module to write, e.g. grad_mazur.py")
    p.add_argument("--form", choices=("scalar", "matrix"), default=None,
                   help="matrix for [mlp] networks (default), scalar otherwise")
    p.add_argument("--reduction", choices=("mean", "sum"), default="mean", help="loss over the batch (default mean)")
    p.add_argument("--backend", choices=("numpy", "numba"), default="numpy",
                   help="numpy (default; the module needs only NumPy) or numba (fused loop; needs symgrad[fast])")
    p.set_defaults(run=_cmd_compile)
    p = sub.add_parser("train", help="gradient descent on compiled code; prints the final loss and parameters")
    p.add_argument("spec", metavar="EXAMPLE_OR_SPEC")
    p.add_argument("--steps", type=_positive_int, required=True)
    p.add_argument("--batch-size", type=_positive_int, default=None, help="mini-batch size (default: full batch)")
    p.add_argument("--learning-rate", type=float, default=None,
                   help="default: the spec's [train] learning_rate (finite, above 0)")
    p.add_argument("--seed", type=int, default=0, help="seed for mini-batch shuffling (default 0; 0 or more)")
    p.add_argument("--form", choices=("scalar", "matrix"), default=None)
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--plot", metavar="FILE", type=_picture_file, default=None,
                   help="also draw the loss curve to FILE (.svg or .png)")
    p.set_defaults(run=_cmd_train)
    _add_gradcheck(sub)
    p = sub.add_parser("graph", help="draw the circuit: values above each wire, gradients below (.svg or .png)")
    p.add_argument("spec", metavar="EXAMPLE_OR_SPEC")
    p.add_argument("-o", "--output", type=_picture_file, required=True,
                   help="the picture to write, e.g. graph.svg or graph.png")
    p.add_argument("--digits", type=_digits, default=4, help="significant digits on the wires (default 4)")
    p.add_argument("--definitions", action="store_true", help="show each node's definition under its name")
    p.set_defaults(run=_cmd_graph)
    p = sub.add_parser("check", help="judge every number of a hand calculation and explain the first slip")
    p.add_argument("spec", metavar="EXAMPLE_OR_SPEC")
    p.add_argument("claims", metavar="CLAIMS", nargs="*", help="claims files (one per sheet): one NAME = VALUE a line")
    p.add_argument("--variants", metavar="DIR", default=None,
                   help="grade each sheet against its own variant in DIR (written by symgrad exercise); "
                        "then every positional argument is a sheet")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--rounding", choices=ROUNDINGS, default="half-up",
                   help="what counts as the person's own rounding of a last digit (default half-up)")
    p.add_argument("--summary", metavar="FILE.csv", help="write one CSV row per sheet (verdict counts, first slip, score)")
    p.add_argument("--annotate", metavar="DIR", help="write each sheet back as Markdown and LaTeX with its verdicts")
    p.add_argument("--no-follow-through", action="store_true",
                   help="with --variants: a line wrong only from an earlier slip earns no marks (marks.toml "
                        "follow_through overridden)")
    p.set_defaults(run=_cmd_check)
    _add_exercise(sub)
    return parser


def _one_line(text: str) -> str:
    return printable(" ".join(text.split("\n")))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; bad input prints one line on stderr and returns 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        text = args.run(args)
    except SymgradError as exc:
        print(f"symgrad: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except RecursionError:
        print("symgrad: error: the network is nested too deeply to process", file=sys.stderr)
        return 2
    text, status = text if isinstance(text, tuple) else (text, 0)
    sys.stdout.write(text)
    return status  # gradcheck and check: 1 when something is wrong
