"""The ``symgrad`` command: parses arguments and calls the library; no logic of its own."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .errors import SpecError, SymgradError
from .fitting import compile_network
from .render.text import printable
from .reporting import FORMATS, render_training, report, train_network
from .spec import builtin_examples, load
from .train import UPDATE_RULES

__all__ = ["main"]


def _digits(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer; give a number of digits such as 9") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"{value} is out of range; give 1 to 1000 digits")
    return value


def _cmd_examples(args: argparse.Namespace) -> str:
    examples = builtin_examples()
    width = max(len(e.name) for e in examples)
    return "".join(f"{e.name.ljust(width)}  {e.description}\n" for e in examples)


def _naming_spec(run):
    """Errors found after loading (deriving, evaluating, compiling) name the spec they came from."""

    def wrapped(args: argparse.Namespace) -> str:
        try:
            return run(args)
        except SpecError:
            raise
        except SymgradError as exc:
            raise SpecError(str(exc), source=str(args.spec)) from None
        except RecursionError:
            raise SpecError("the network is nested too deeply to process", source=str(args.spec)) from None

    return wrapped


@_naming_spec
def _cmd_report(args: argparse.Namespace) -> str:
    network = load(args.spec)
    title = f"{args.spec}: {network.description}" if network.description else str(args.spec)
    return report(network, digits=args.digits, format=args.format, title=title,
                  round_intermediates=args.round_intermediates, update_rule=args.update_rule)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)
    except OSError:
        return False


@_naming_spec
def _cmd_compile(args: argparse.Namespace) -> str:
    if _same_file(args.spec, args.output) or (Path(args.output).suffix == ".toml"):
        raise SymgradError(f"refusing to write generated Python over {args.output}; choose an output such as "
                           f"grad.py with -o")
    network = load(args.spec)
    compiled = compile_network(network, form=args.form, reduction=args.reduction, backend=args.backend)
    try:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(compiled.source)
    except OSError as exc:
        raise SymgradError(f"cannot write {args.output}: {exc.strerror}; choose a writable path with -o") from None
    return f"wrote {args.output}: value_and_grad for {len(compiled.params)} parameter arrays ({compiled.form} form)\n"


@_naming_spec
def _cmd_train(args: argparse.Namespace) -> str:
    network = load(args.spec)
    result = train_network(network, steps=args.steps, batch_size=args.batch_size, learning_rate=args.learning_rate,
                           seed=args.seed, form=args.form)
    return render_training(result, format=args.format)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="symgrad", description="Exact, symbolic backpropagation.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("examples", help="list the built-in examples")
    p.set_defaults(run=_cmd_examples)
    p = sub.add_parser("report", help="forward pass, chain-rule derivation, gradients and update")
    p.add_argument("spec", metavar="EXAMPLE_OR_SPEC", help="a built-in example name or a .toml spec file")
    p.add_argument("--digits", type=_digits, default=9, help="significant digits (default 9)")
    p.add_argument("--format", choices=FORMATS, default="text", help="text (default) or json")
    p.add_argument("--round-intermediates", action="store_true",
                   help="round every intermediate to --digits as it is produced, as a person does by hand")
    p.add_argument("--update-rule", choices=UPDATE_RULES, default="simultaneous",
                   help="simultaneous (default): every gradient at the old parameters; layerwise: output layer first")
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
    p.add_argument("--format", choices=FORMATS, default="text")
    p.set_defaults(run=_cmd_train)
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
    sys.stdout.write(text)
    return 0
