"""TOML spec files ↔ Network. Built-in examples are spec files shipped inside the package.

A spec is untrusted text: TOML is read by ``tomllib`` (floats as exact Decimals), every
expression by the allow-list parser in ``expr.py``, and every problem is reported as a
``SpecError`` naming the file, the key and the fix.
"""

from __future__ import annotations

import decimal
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import GraphError, ParseError, SpecError, SymgradError
from .expr import is_identifier, parse_expression
from .graph import Network, as_number
from .layers import MAX_SCALAR_PARAMS, count_params, mlp

__all__ = ["load", "loads", "builtin_examples", "Example"]

_TOP_KEYS = ("description", "output", "symbols", "values", "nodes", "train", "data", "mlp")
_SYMBOL_KINDS = {"inputs": "input", "targets": "target", "params": "param", "constants": "constant"}
_MLP_KEYS = ("widths", "activation", "output_activation", "loss", "bias", "slope", "l2", "seed")


@dataclass(frozen=True)
class Example:
    """A built-in example: its name and one-line description."""

    name: str
    description: str


def _examples_dir():
    return resources.files("symgrad") / "examples"


def builtin_examples() -> tuple[Example, ...]:
    """The built-in examples, sorted by name."""
    found = []
    for entry in sorted(_examples_dir().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            text = entry.read_text(encoding="utf-8")
            data = tomllib.loads(text)
            found.append(Example(entry.name[:-5], str(data.get("description", ""))))
    return tuple(found)


def load(path_or_name: str | Path) -> Network:
    """The network of a spec file, or of a built-in example by name (``symgrad examples``).

    >>> load("mazur").output
    'E_total'
    """
    path = Path(path_or_name)
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecError(f"cannot read the file ({exc})", source=str(path)) from None
        return loads(text, source=str(path))
    name = str(path_or_name)
    builtin = _examples_dir() / f"{name}.toml"
    if is_identifier(name) and builtin.is_file():
        return loads(builtin.read_text(encoding="utf-8"), source=f"{name} (built-in)")
    names = ", ".join(e.name for e in builtin_examples())
    raise SpecError(f"no such spec file or built-in example; built-in examples are: {names}", source=name)


def loads(text: str, *, source: str = "<spec>") -> Network:
    """Build a network from spec text; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text, parse_float=decimal.Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"invalid TOML: {exc}; check the quoting and brackets on that line", source=source) from None
    return _Builder(data, source).build()


class _Builder:
    def __init__(self, data: dict, source: str):
        self.data = data
        self.source = source

    def fail(self, key: str | None, problem: str) -> SpecError:
        return SpecError(problem, source=self.source, key=key)

    def table(self, key: str) -> dict:
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a table [{key}], got {type(value).__name__} {value!r}")
        return value

    def build(self) -> Network:
        for key in self.data:
            if key not in _TOP_KEYS:
                raise self.fail(key, f"unknown key; a spec may have {', '.join(_TOP_KEYS)}")
        description = self.data.get("description", "")
        if not isinstance(description, str):
            raise self.fail("description", f"expected a string, got {description!r}")
        if "mlp" in self.data:
            for clash in ("symbols", "nodes"):
                if clash in self.data:
                    raise self.fail(clash, "a spec with [mlp] generates its own symbols and nodes; remove this table")
            net = self.build_mlp(description)
        else:
            net = Network(description=description)
            self.declare_symbols(net)
            self.define_nodes(net)
        self.set_values(net, required="mlp" not in self.data)
        self.set_output(net)
        self.set_train(net)
        self.set_data(net)
        return net

    def build_mlp(self, description: str) -> Network:
        spec = self.table("mlp")
        for key in spec:
            if key not in _MLP_KEYS:
                raise self.fail(f"mlp.{key}", f"unknown key; [mlp] may have {', '.join(_MLP_KEYS)}")
        if "widths" not in spec:
            raise self.fail("mlp.widths", "missing; give the layer widths, for example widths = [2, 2, 2]")
        options = {}
        for key in ("activation", "output_activation", "loss", "bias"):
            if key in spec:
                if not isinstance(spec[key], str):
                    raise self.fail(f"mlp.{key}", f"expected a string, got {spec[key]!r}")
                options[key] = spec[key]
        if "slope" in spec:
            options["slope"] = str(self.number("mlp.slope", spec["slope"]))
        if "l2" in spec:
            options["l2"] = self.number("mlp.l2", spec["l2"])
        if "seed" in spec:
            if not isinstance(spec["seed"], int) or isinstance(spec["seed"], bool):
                raise self.fail("mlp.seed", f"expected an integer, got {spec['seed']!r}")
            options["seed"] = spec["seed"]
        widths = spec["widths"]
        if not isinstance(widths, list):
            raise self.fail("mlp.widths", f"expected a list of integers, got {widths!r}")
        if any(not isinstance(w, int) or isinstance(w, bool) or not 1 <= w <= 100_000 for w in widths):
            raise self.fail("mlp.widths", f"expected layer sizes from 1 to 100000, got {widths!r}")
        scalar = count_params(widths, bias=options.get("bias", "neuron"),
                              activation=options.get("activation", "sigmoid")) <= MAX_SCALAR_PARAMS
        if not scalar and "values" in self.data:
            raise self.fail("values", f"an [mlp] with more than {MAX_SCALAR_PARAMS} parameters is built in matrix "
                            "form only, without a scalar name per weight; remove [values]")
        try:
            return mlp(widths, description=description, scalar=scalar, **options)
        except GraphError as exc:
            raise self.fail("mlp", str(exc)) from None

    def number(self, key: str, value: object):
        if isinstance(value, bool) or not isinstance(value, (int, decimal.Decimal, str)):
            raise self.fail(key, f"{value!r} is not a number; write a decimal such as 0.05 or a string such as \"1/3\"")
        try:
            return as_number(value)
        except SymgradError:
            raise self.fail(key, f"{value!r} is not a number; write a decimal such as 0.05 or a string such as \"1/3\"") from None

    def declare_symbols(self, net: Network) -> None:
        symbols = self.table("symbols")
        for key, names in symbols.items():
            if key not in _SYMBOL_KINDS:
                raise self.fail(f"symbols.{key}", f"unknown key; [symbols] may have {', '.join(_SYMBOL_KINDS)}")
            if not isinstance(names, list):
                raise self.fail(f"symbols.{key}", f"expected a list of names, got {names!r}")
            for name in names:
                self.check_name(f"symbols.{key}", name)
                if name in net.leaves:
                    raise self.fail(f"symbols.{key}", f"duplicate name {name!r}; each quantity needs its own name")
                getattr(net, _SYMBOL_KINDS[key])(name, None)

    def check_name(self, key: str, name: object) -> None:
        if not is_identifier(name):
            raise self.fail(key, f"{name!r} is not a valid name; use letters, digits and _, not starting with a digit")

    def define_nodes(self, net: Network) -> None:
        nodes = self.table("nodes")
        if not nodes:
            raise self.fail("nodes", "missing or empty; define at least one node, e.g. f = \"w*x\"")
        parsed = {}
        for name, text in nodes.items():
            key = f"nodes.{name}"
            self.check_name(key, name)
            if name in net.leaves:
                raise self.fail(key, f"duplicate name {name!r}: it is already declared under [symbols]")
            if not isinstance(text, str):
                raise self.fail(key, f"expected an expression string, got {text!r}")
            try:
                parsed[name] = parse_expression(text)
            except ParseError as exc:
                raise self.fail(key, str(exc)) from None
        order = list(parsed)
        for position, name in enumerate(order):
            for used in parsed[name].names:
                if used in net.leaves:
                    continue
                if used not in parsed:
                    raise self.fail(f"nodes.{name}", f"unknown name {used!r}; declare it under [symbols] or define it as a node")
                if order.index(used) >= position:
                    cycle = self.find_cycle(parsed, name)
                    if cycle:
                        raise self.fail(f"nodes.{name}", "cycle " + " -> ".join(cycle) + "; a node cannot depend on itself")
                    raise self.fail(f"nodes.{name}", f"{used!r} is used before it is defined; move its definition above {name!r}")
        for name in order:
            try:
                net.node(name, nodes[name])
            except SymgradError as exc:  # pragma: no cover - checked above
                raise self.fail(f"nodes.{name}", str(exc)) from None

    @staticmethod
    def find_cycle(parsed: dict, start: str) -> list[str] | None:
        path: list[str] = []

        def visit(name: str) -> list[str] | None:
            if name in path:
                return path[path.index(name):] + [name]
            if name not in parsed:
                return None
            path.append(name)
            for used in parsed[name].names:
                found = visit(used)
                if found:
                    return found
            path.pop()
            return None

        return visit(start)

    def set_values(self, net: Network, *, required: bool) -> None:
        values = self.table("values")
        for name, value in values.items():
            key = f"values.{name}"
            if name not in net.leaves:
                what = "a node (its value is computed)" if name in net.nodes else "not declared"
                raise self.fail(key, f"{name!r} is {what}; only inputs, targets, params and constants take values")
            net.values[name] = self.number(key, value)
        if required:
            missing = [n for n in net.leaves if n not in net.values and n not in self.table("data")]
            if missing:
                raise self.fail("values", "missing value for " + ", ".join(repr(m) for m in missing)
                                + "; give each input, target, param and constant a number")

    def set_output(self, net: Network) -> None:
        if "output" in self.data:
            output = self.data["output"]
            if not isinstance(output, str) or output not in net.nodes:
                raise self.fail("output", f"{output!r} is not a node of the network; name one of {', '.join(net.nodes)}")
            net.output = output

    def set_train(self, net: Network) -> None:
        train = self.table("train")
        for key, value in train.items():
            if key != "learning_rate":
                raise self.fail(f"train.{key}", "unknown key; [train] may have learning_rate")
            rate = self.number("train.learning_rate", value)
            if not rate > 0:
                raise self.fail("train.learning_rate", f"must be positive, got {value}")
            net.learning_rate = rate

    def set_data(self, net: Network) -> None:
        data = self.table("data")
        if not data:
            return
        columns = {}
        for name, column in data.items():
            key = f"data.{name}"
            if name not in net.leaves or net.leaves[name].kind not in ("input", "target"):
                raise self.fail(key, f"{name!r} is not an input or target")
            if not isinstance(column, list) or not column:
                raise self.fail(key, f"expected a non-empty list of numbers, got {column!r}")
            columns[name] = [self.number(key, v) for v in column]
        try:
            net.set_data(columns)
        except GraphError as exc:
            raise self.fail("data", str(exc)) from None
        for name, column in net.data.items():
            net.values.setdefault(name, column[0])
