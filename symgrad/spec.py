"""TOML spec files ↔ Network. Built-in examples are spec files shipped inside the package.

A spec is untrusted text: TOML is read by ``tomllib`` (floats as exact Decimals), every
expression by the allow-list parser in ``expr.py``, and every problem is reported as a
``SpecError`` naming the file, the key and the fix.
"""

from __future__ import annotations

import decimal
import tomllib
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import GraphError, ParseError, SpecError, SymgradError, shorten
from .expr import Parsed, is_identifier, parse_expression
from .graph import Network, as_number
from .layers import count_params, mlp, warn_mse
from .limits import (
    MAX_LAYER_PARAMS,
    MAX_LAYERS,
    MAX_LITERAL,
    MAX_NODES,
    MAX_SCALAR_FAN_IN,
    MAX_SCALAR_PARAMS,
    MAX_SEED,
    MAX_SPEC_DIGITS,
    MAX_SPEC_BYTES,
    MAX_SPEC_MLP_PARAMS,
    MAX_DOCUMENT_LINE,
    MAX_WIDTH,
)

__all__ = ["load", "loads", "builtin_examples", "Example"]

_TOP_KEYS = ("description", "title", "author", "date", "output", "symbols", "values", "nodes", "train", "data", "mlp",
             "exercise", "digits")
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
            size = path.stat().st_size
            if size > MAX_SPEC_BYTES:
                raise SpecError(f"the file is {size:,} bytes; spec files are limited to {MAX_SPEC_BYTES:,} bytes",
                                source=str(path))
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
    """Build a network from spec text; ``source`` names it in error messages.

    >>> loads('[symbols]\\nparams = ["w"]\\n[values]\\nw = 3\\n[nodes]\\nf = "w**2"\\n').output
    'f'
    """
    return _Builder(_read_toml(text, source), source).build()


def _read_toml(text: str, source: str) -> dict:
    """Parse TOML (floats as exact Decimals), turning every failure into a SpecError."""
    text = text.removeprefix("\ufeff")  # a UTF-8 byte-order mark, as some editors write
    try:
        return tomllib.loads(text, parse_float=decimal.Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"invalid TOML: {exc}; check the quoting and brackets on that line", source=source) from None
    except RecursionError:
        raise SpecError("invalid TOML: arrays or tables are nested too deeply to read", source=source) from None
    except ValueError as exc:  # Python's own limit on int() of long digit strings
        raise SpecError(f"invalid TOML: a number is too long ({exc}); number literals are limited to "
                        f"{MAX_LITERAL} characters", source=source) from None


class _Builder:
    """Spec data → Network in named steps; every problem becomes a SpecError naming the key."""

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
        self.check_top_keys()
        self.check_misplaced_keys()
        description = self.data.get("description", "")
        if not isinstance(description, str):
            raise self.fail("description", f"expected a string, got {description!r}")
        if "mlp" in self.data:
            net = self.build_mlp(description)
        else:
            net = Network(description=description)
            self.declare_symbols(net)
            self.define_nodes(net)
        self.set_document(net)
        self.set_values(net, required="mlp" not in self.data)
        self.set_output(net)
        self.set_train(net)
        self.set_data(net)
        self.set_digits(net)
        return net

    def set_document(self, net: Network) -> None:
        """The optional ``title``, ``author`` and ``date`` of the documents written from this spec."""
        for key in ("title", "author", "date"):
            value = self.data.get(key, "")
            if not isinstance(value, str):
                raise self.fail(key, f"expected a string, got {value!r}; write {key} = \"...\"")
            if len(value) > MAX_DOCUMENT_LINE:
                raise self.fail(key, f"is {len(value):,} characters; a {key} is limited to {MAX_DOCUMENT_LINE} "
                                "characters; shorten it")
            setattr(net, key, " ".join(value.split()))

    def set_digits(self, net: Network) -> None:
        """``[digits]``: a quantity's own printed precision (``E_total = 12``), as ``--digits-for`` gives it."""
        if "digits" in self.data and not isinstance(self.data["digits"], dict):
            got = shorten(repr(self.data["digits"]))
            raise self.fail("digits", f"expected a table [digits] of quantity = digits, got {got}; "
                            "for the digits of every number use --digits")
        known = list(net.leaves) + list(net.nodes)
        for name, digits in self.table("digits").items():
            if name not in known:
                raise self.fail(f"digits.{name}", f"{name!r} is not a quantity of this network; choose from: "
                                f"{', '.join(known[:40])}{' …' if len(known) > 40 else ''}")
            if not isinstance(digits, int) or isinstance(digits, bool) or not 1 <= digits <= MAX_SPEC_DIGITS:
                # a TOML float (a Decimal) as written
                shown = shorten(str(digits) if isinstance(digits, decimal.Decimal) else repr(digits))
                raise self.fail(f"digits.{name}", f"expected an integer from 1 to {MAX_SPEC_DIGITS:,} (significant "
                                f"digits, or decimal places with --decimals), got {shown}; write {name} = 6, say")
            net.digits[name] = digits

    def check_top_keys(self) -> None:
        for key in self.data:
            if key not in _TOP_KEYS:
                raise self.fail(key, f"unknown key; a spec may have {', '.join(_TOP_KEYS)}")
        if "mlp" in self.data:
            for clash in ("symbols", "nodes"):
                if clash in self.data:
                    raise self.fail(clash, "a spec with [mlp] generates its own symbols and nodes; remove this table")

    def check_misplaced_keys(self) -> None:
        """``output = "f"`` written below a [table] header belongs to that table in TOML: say so."""
        for table_name, table in self.data.items():
            if not isinstance(table, dict):
                continue
            for key in ("output", "description"):
                if key not in table or key in self.data:
                    continue
                value = table[key]
                if table_name == "nodes" and not (key == "output" and isinstance(value, str)
                                                  and value in table and value != key):
                    continue  # a node may be called output or description; only an alias looks misplaced
                raise self.fail(f"{table_name}.{key}", f"`{key} = {value!r}` is inside [{table_name}], because "
                                "TOML puts every key below a [table] header into that table; move the line above "
                                "the first [table] header of the file")

    # -- the [mlp] shorthand ---------------------------------------------------------------
    def build_mlp(self, description: str) -> Network:
        spec = self.table("mlp")
        for key in spec:
            if key not in _MLP_KEYS:
                raise self.fail(f"mlp.{key}", f"unknown key; [mlp] may have {', '.join(_MLP_KEYS)}")
        options = self.mlp_options(spec)
        widths = self.mlp_widths(spec, options)
        scalar = (count_params(widths, bias=options.get("bias", "neuron"),
                               activation=options.get("activation", "sigmoid")) <= MAX_SCALAR_PARAMS
                  and max(widths[:-1]) <= MAX_SCALAR_FAN_IN)
        if not scalar and "values" in self.data:
            raise self.fail("values", f"an [mlp] with more than {MAX_SCALAR_PARAMS} parameters or a layer of more "
                            f"than {MAX_SCALAR_FAN_IN} inputs is built in matrix form only, without a scalar name "
                            "per weight; remove [values]")
        try:
            with warnings.catch_warnings():  # mse's warning names this file and key instead (warn_mse)
                warnings.filterwarnings("ignore", message=r"loss='mse'", category=DeprecationWarning)
                net = mlp(widths, description=description, scalar=scalar, **options)
            if options.get("loss") == "mse" and widths[-1] > 1:
                warn_mse(widths[-1], where=f"{self.source}, key mlp.loss = \"mse\"")
            return net
        except SymgradError as exc:
            raise self.fail("mlp", str(exc)) from None

    def mlp_options(self, spec: dict) -> dict:
        options = {}
        for key in ("activation", "output_activation", "loss", "bias"):
            if key in spec:
                if not isinstance(spec[key], str):
                    raise self.fail(f"mlp.{key}", f"expected a string, got {spec[key]!r}")
                options[key] = spec[key]
        if "slope" in spec:
            options["slope"] = str(self.number("mlp.slope", spec["slope"], what="the leaky ReLU slope"))
        if "l2" in spec:
            options["l2"] = self.number("mlp.l2", spec["l2"], what="the L2 strength")
        if "seed" in spec:
            seed = spec["seed"]
            if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed <= MAX_SEED:
                raise self.fail("mlp.seed", f"expected an integer from 0 to {MAX_SEED}, got {seed!r}")
            options["seed"] = seed
        return options

    def mlp_widths(self, spec: dict, options: dict) -> list[int]:
        """The layer widths, refused before anything is allocated if the network would be too big."""
        if "widths" not in spec:
            raise self.fail("mlp.widths", "missing; give the layer widths, for example widths = [2, 2, 2]")
        widths = spec["widths"]
        if not isinstance(widths, list) or not 2 <= len(widths) <= MAX_LAYERS + 1:
            size = f"a list of {len(widths)}" if isinstance(widths, list) else repr(widths)
            raise self.fail("mlp.widths", f"expected a list of 2 to {MAX_LAYERS + 1} layer sizes (at most "
                            f"{MAX_LAYERS} dense layers), got {shorten(size, 80)}")
        for width in widths:
            if not isinstance(width, int) or isinstance(width, bool) or not 1 <= width <= MAX_WIDTH:
                raise self.fail("mlp.widths",
                                f"expected layer sizes from 1 to {MAX_WIDTH}, got {shorten(repr(width), 80)}")
        pieces = 2 if options.get("activation") == "maxout" else 1
        for m, n in zip(widths, widths[1:]):
            if pieces * m * n > MAX_LAYER_PARAMS:
                raise self.fail("mlp.widths", f"a {m} x {n} layer has {pieces * m * n:,} weights "
                                f"({_gigabytes(pieces * m * n)} as float64); the limit is {MAX_LAYER_PARAMS:,} per layer")
        total = count_params(widths, bias=options.get("bias", "neuron"), activation=options.get("activation", "sigmoid"))
        if total > MAX_SPEC_MLP_PARAMS:
            raise self.fail("mlp.widths", f"the network has {total:,} parameters ({_gigabytes(total)} as float64); "
                            f"the limit for a spec file is {MAX_SPEC_MLP_PARAMS:,}")
        return widths

    def number(self, key: str, value: object, *, what: str = "the value"):
        if not isinstance(value, (int, decimal.Decimal, str)) or isinstance(value, bool):
            raise self.fail(key, f"{what} is {shorten(repr(value), 80)}, which is not a number; write a decimal "
                            "such as 0.05 or a string such as \"1/3\"")
        if isinstance(value, int) and len(str(abs(value))) > MAX_LITERAL:  # TOML integers have < 4,300 digits
            raise self.fail(key, f"{what} is an integer of {len(str(abs(value)))} digits; number literals are "
                            f"limited to {MAX_LITERAL} characters")
        try:
            return as_number(value, what=what)
        except SymgradError as exc:
            raise self.fail(key, str(exc)) from None

    # -- [symbols] and [nodes] ------------------------------------------------------------
    def declare_symbols(self, net: Network) -> None:
        symbols = self.table("symbols")
        for key, names in symbols.items():
            if key not in _SYMBOL_KINDS:
                raise self.fail(f"symbols.{key}", f"unknown key; [symbols] may have {', '.join(_SYMBOL_KINDS)}")
            if not isinstance(names, list):
                raise self.fail(f"symbols.{key}", f"expected a list of names, got {shorten(repr(names), 80)}")
            if len(net.leaves) + len(names) > MAX_NODES:
                raise self.fail(f"symbols.{key}", f"more than {MAX_NODES:,} names; a network holds at most that many")
            for name in names:
                self.check_name(f"symbols.{key}", name)
                if name in net.leaves:
                    raise self.fail(f"symbols.{key}", f"duplicate name {name!r}; each quantity needs its own name")
                getattr(net, _SYMBOL_KINDS[key])(name, None)

    def check_name(self, key: str, name: object) -> None:
        if not is_identifier(name):
            raise self.fail(key, f"{shorten(repr(name), 80)} is not a valid name; use ASCII letters, digits and _, "
                            "not starting with a digit")

    def define_nodes(self, net: Network) -> None:
        nodes = self.table("nodes")
        if not nodes:
            raise self.fail("nodes", "missing or empty; define at least one node, e.g. f = \"w*x\"")
        if len(net.leaves) + len(nodes) > MAX_NODES:
            raise self.fail("nodes", f"{len(nodes):,} nodes and {len(net.leaves):,} symbols; a network holds at "
                            f"most {MAX_NODES:,} names")
        parsed = {name: self.parse_node(net, name, text) for name, text in nodes.items()}
        self.check_order(net, parsed)
        for name, definition in parsed.items():
            try:
                net.node(name, definition, source=nodes[name])
            except SymgradError as exc:  # pragma: no cover - checked above
                raise self.fail(f"nodes.{name}", str(exc)) from None

    def parse_node(self, net: Network, name: str, text: object) -> Parsed:
        key = f"nodes.{name}"
        self.check_name(key, name)
        if name in net.leaves:
            raise self.fail(key, f"duplicate name {name!r}: it is already declared under [symbols]")
        if not isinstance(text, str):
            raise self.fail(key, f"expected an expression string, got {shorten(repr(text), 80)}")
        try:
            return parse_expression(text, real=True)
        except ParseError as exc:
            hint = ""
            if name == "description" and "description" not in self.data:
                hint = ("; if this is the spec's description, TOML put it into [nodes] because it comes below "
                        "that header: move the line above the first [table] header of the file")
            raise self.fail(key, f"{exc}{hint}") from None

    def check_order(self, net: Network, parsed: dict[str, Parsed]) -> None:
        """Every name a node uses is a leaf or a node defined above it (linear in the spec's size)."""
        position = {name: i for i, name in enumerate(parsed)}
        for name, node in parsed.items():
            for used in node.names:
                if used in net.leaves:
                    continue
                if used not in position:
                    raise self.fail(f"nodes.{name}", f"unknown name {used!r}; declare it under [symbols] or "
                                    "define it as a node")
                if position[used] >= position[name]:
                    cycle = _find_cycle(parsed, name)
                    if cycle:
                        raise self.fail(f"nodes.{name}", f"cycle {_describe_cycle(cycle)}; a node cannot depend "
                                        "on itself")
                    raise self.fail(f"nodes.{name}", f"{used!r} is used before it is defined; move its "
                                    f"definition above {name!r}")

    # -- values, output, training, data ---------------------------------------------------
    def set_values(self, net: Network, *, required: bool) -> None:
        values = self.table("values")
        for name, value in values.items():
            key = f"values.{name}"
            self.check_name(key, name)
            if name not in net.leaves:
                what = "a node (its value is computed)" if name in net.nodes else "not declared"
                raise self.fail(key, f"{name!r} is {what}; only inputs, targets, params and constants take values")
            net.values[name] = self.number(key, value, what=f"the value of {name!r}")
        if required:
            data = self.table("data")
            missing = [n for n in net.leaves if n not in net.values and n not in data]
            if missing:
                raise self.fail("values", "missing value for " + ", ".join(repr(m) for m in missing[:10])
                                + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
                                + "; give each input, target, param and constant a number")

    def set_output(self, net: Network) -> None:
        if "output" in self.data:
            output = self.data["output"]
            if not isinstance(output, str) or output not in net.nodes:
                names = ", ".join(list(net.nodes)[:10]) + (", ..." if len(net.nodes) > 10 else "")
                raise self.fail("output",
                                f"{shorten(repr(output), 80)} is not a node of the network; name one of {names}")
            net.output = output

    def set_train(self, net: Network) -> None:
        train = self.table("train")
        for key, value in train.items():
            if key != "learning_rate":
                raise self.fail(f"train.{key}", "unknown key; [train] may have learning_rate")
            rate = self.number("train.learning_rate", value, what="the learning rate")
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
                raise self.fail(key, f"expected a non-empty list of numbers, got {shorten(repr(column), 80)}")
            columns[name] = [self.number(key, v, what=f"an entry of {name!r}") for v in column]
        try:
            net.set_data(columns)
        except GraphError as exc:
            raise self.fail("data", str(exc)) from None
        for name, column in net.data.items():
            net.values.setdefault(name, column[0])


def _find_cycle(parsed: dict[str, Parsed], start: str) -> list[str] | None:
    """A cycle of node names reachable from ``start`` (first name repeated at the end), or None.

    Iterative depth-first search, so a 100,000-node cycle needs no deep recursion.
    """
    on_path: dict[str, int] = {}
    path: list[str] = []
    done: set[str] = set()
    stack = [(start, iter(parsed[start].names))]
    on_path[start] = 0
    path.append(start)
    while stack:
        name, uses = stack[-1]
        for used in uses:
            if used in on_path:
                return path[on_path[used]:] + [used]
            if used in parsed and used not in done:
                on_path[used] = len(path)
                path.append(used)
                stack.append((used, iter(parsed[used].names)))
                break
        else:
            stack.pop()
            done.add(path.pop())
            del on_path[name]
    return None


def _describe_cycle(cycle: list[str]) -> str:
    if len(cycle) <= 12:
        return " -> ".join(cycle)
    return (f"of {len(cycle) - 1} nodes " + " -> ".join(cycle[:5]) + " -> ... -> "
            + " -> ".join(cycle[-3:]))


def _gigabytes(count: int) -> str:
    return f"{count * 8 / 2**30:,.1f} GiB"
