"""The ``symgrad`` command: parses arguments and calls the library; no logic of its own."""

from __future__ import annotations

import argparse
import sys

from .errors import SpecError, SymgradError
from .report import FORMATS, report
from .spec import builtin_examples, load

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


def _cmd_report(args: argparse.Namespace) -> str:
    network = load(args.spec)
    title = f"{args.spec}: {network.description}" if network.description else str(args.spec)
    try:
        return report(network, digits=args.digits, format=args.format, title=title)
    except SpecError:
        raise
    except SymgradError as exc:  # a problem of this spec found while deriving: name the file
        raise SpecError(str(exc), source=str(args.spec)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="symgrad", description="Exact, symbolic backpropagation.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("examples", help="list the built-in examples")
    p.set_defaults(run=_cmd_examples)
    p = sub.add_parser("report", help="forward pass, chain-rule derivation, gradients and update")
    p.add_argument("spec", metavar="EXAMPLE_OR_SPEC", help="a built-in example name or a .toml spec file")
    p.add_argument("--digits", type=_digits, default=9, help="significant digits (default 9)")
    p.add_argument("--format", choices=FORMATS, default="text", help="text (default) or json")
    p.set_defaults(run=_cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; bad input prints one line on stderr and returns 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        text = args.run(args)
    except SymgradError as exc:
        print(f"symgrad: error: {exc}", file=sys.stderr)
        return 2
    except RecursionError:
        print("symgrad: error: the network is nested too deeply to process", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0
