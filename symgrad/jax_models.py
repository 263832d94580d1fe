"""JAX models in: a loss function of dense layers, read from its jaxpr, as a symgrad network.

``fn(params, inputs, targets)`` returns the scalar loss (what you would give ``jax.grad``).
``jax.make_jaxpr`` traces it, and each equation of the jaxpr is run on NumPy arrays of SymPy
expressions by one table, ``PRIMITIVES`` (primitive name → rule). A primitive outside the
table is refused with ``InvalidArgument`` naming it.

Names: parameter ``params_0_W_1_2`` is ``params[0]["W"][1, 2]`` (the pytree key path, then the
index); inputs ``x_…`` and targets ``t_…`` are indexed like the example arrays. Each activation
(tanh, logistic, exp, log, relu) k = 1, 2, … makes nodes ``z{k}_…`` for its argument and
``a{k}_…`` for its value; a weighted sum of parameters that a product or power consumes
becomes nodes ``v{n}_…`` first, so that the graph shares it; the loss is ``E_total``.

Three rules keep the translation exact. ``stop_gradient(e)`` becomes a constant leaf
``sg{k}_…`` holding e's float64 value at the example point (in log-softmax and log-sum-exp it
is the max-shift, which cancels exactly). ``is_finite`` is true (every value symgrad evaluates
is finite), and ``select_n`` on such a constant choice takes its branch; a choice that depends
on the data (``jnp.where(x > 0, …)``) is refused. ``custom_jvp_call`` (``jax.nn.relu``) is read
through its primal computation; symgrad differentiates that.
"""

from __future__ import annotations

import math
import re
from typing import Callable

import numpy as np
import sympy

from .errors import InvalidArgument
from .evaluation import evaluate, evaluate_expr
from .functions import relu, sigmoid
from .jax_matrix import matrix_model
from .limits import MAX_SCALAR_PARAMS
from .model_import import ImportedModel, ModelGraph, exact, require

__all__ = ["from_jax", "PRIMITIVES"]


def _number(value: object) -> sympy.Expr:
    """A literal or closed-over constant, exactly; ±inf become ±∞ (they may only vanish, as in max(−inf, x))."""
    if isinstance(value, (bool, np.bool_)):
        return sympy.true if value else sympy.false
    number = float(value)
    if math.isinf(number):
        return sympy.oo if number > 0 else -sympy.oo
    return exact(number, what="a constant in the function")


def _constant_array(value: object) -> np.ndarray:
    array = np.asarray(value)
    out = np.empty(array.shape, dtype=object)
    for index in np.ndindex(*array.shape):
        out[index] = _number(array[index])
    return out


def _map(function: Callable, *arrays: np.ndarray) -> np.ndarray:
    return np.vectorize(function, otypes=[object])(*arrays)


def _is_literal(var) -> bool:
    """A constant written into the jaxpr (``2.0:f64[]``), as opposed to a variable."""
    return type(var).__name__ == "Literal"


def _is_atom(entry: object) -> bool:
    return isinstance(entry, (sympy.Symbol, sympy.Number)) or entry in (sympy.true, sympy.false)


class _Reader:
    """Runs a jaxpr on arrays of expressions, adding nodes to ``graph`` as it goes."""

    def __init__(self, graph: ModelGraph):
        self.graph = graph
        self.activations = 0
        self.stops = 0
        self.shared = 0

    def run(self, jaxpr, consts: list, args: list[np.ndarray]) -> list[np.ndarray]:
        env: dict = {}
        for var, value in zip(jaxpr.constvars, consts):
            env[var] = _constant_array(value)
        for var, value in zip(jaxpr.invars, args):
            env[var] = value

        def read(var) -> np.ndarray:
            if _is_literal(var):
                return _constant_array(var.val)
            return env[var]

        for eqn in jaxpr.eqns:
            name = eqn.primitive.name
            rule = PRIMITIVES.get(name)
            if rule is None:
                raise _unread(name, _short(eqn))
            args = [read(v) for v in eqn.invars]
            if name in _SHARED_OPERANDS:
                args = [self.share(eqn, env, k, a) for k, a in enumerate(args)]
            result = rule(self, eqn, env, args)
            outs = result if isinstance(result, list) else [result]
            for var, value in zip(eqn.outvars, outs):
                env[var] = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) else value
        return [read(v) for v in jaxpr.outvars]

    def materialize(self, eqn, env: dict, position: int, value: np.ndarray, base: str) -> np.ndarray:
        """``value`` (operand ``position`` of ``eqn``) as nodes, unless it is already symbols; later
        uses of the same variable then read the nodes."""
        if all(_is_atom(e) for e in value.flat):
            return value
        nodes = self.graph.nodes(base, value)
        var = eqn.invars[position]
        if not _is_literal(var):
            env[var] = nodes
        return nodes

    def share(self, eqn, env: dict, position: int, value: np.ndarray) -> np.ndarray:
        """A weighted sum that a product, power or max consumes becomes nodes ``v{n}``, so that the
        graph reuses it (as ``z`` in max(z, 0.1·z)) instead of expanding it into each use."""
        network = self.graph.network

        def worth_a_node(entry) -> bool:
            return isinstance(entry, sympy.Add) and any(
                s.name in network.nodes or network.leaves[s.name].kind == "param" for s in entry.free_symbols)

        if not any(worth_a_node(e) for e in value.flat):
            return value
        self.shared += 1
        return self.materialize(eqn, env, position, value, f"v{self.shared}")

    def activate(self, eqn, env: dict, value: np.ndarray, function: Callable) -> np.ndarray:
        """An activation: its argument as nodes ``z{k}``, its value as nodes ``a{k}``."""
        self.activations += 1
        k = self.activations
        argument = self.materialize(eqn, env, 0, value, f"z{k}")
        return self.graph.nodes(f"a{k}", _map(function, argument))

    def stop_gradient(self, value: np.ndarray) -> np.ndarray:
        """A constant leaf per entry, holding the entry's float64 value at the example point."""
        self.stops += 1
        if all(isinstance(e, sympy.Number) for e in value.flat):
            return value
        known = evaluate(self.graph.network, digits=None).values
        env = {name: float(v) for name, v in known.items()}
        numbers = np.empty(value.shape, dtype=np.float64)
        for index in np.ndindex(*value.shape):
            numbers[index] = float(evaluate_expr(sympy.sympify(value[index]), env, exact=False))
        return self.graph.leaves("constant", f"sg{self.stops}", numbers, what="a stop_gradient value")


def _unread(name: str, text: str) -> InvalidArgument:
    hint = _HINTS.get(name, f"it reads {', '.join(sorted(PRIMITIVES))}")
    return InvalidArgument(f"the jaxpr uses the primitive {name!r}, which from_jax does not read (in: {text}); {hint}")


def _short(eqn) -> str:
    text = " ".join(str(eqn).split())
    return text if len(text) <= 120 else text[:117] + "..."


def _dot_general(reader, eqn, env, args):
    a, b = args
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    lc, rc, lb, rb = map(list, (lc, rc, lb, rb))
    lf = [d for d in range(a.ndim) if d not in lc and d not in lb]
    rf = [d for d in range(b.ndim) if d not in rc and d not in rb]
    batch = [a.shape[d] for d in lb]
    left = [a.shape[d] for d in lf]
    right = [b.shape[d] for d in rf]
    contract = int(np.prod([a.shape[d] for d in lc], dtype=np.int64))
    A = np.transpose(a, lb + lf + lc).reshape(int(np.prod(batch, dtype=np.int64)), -1, contract)
    B = np.transpose(b, rb + rf + rc).reshape(A.shape[0], -1, contract)
    out = np.empty((A.shape[0], A.shape[1], B.shape[1]), dtype=object)
    for i, j, k in np.ndindex(*out.shape):
        out[i, j, k] = sympy.Add(*[A[i, j, c] * B[i, k, c] for c in range(contract)])
    return out.reshape(batch + left + right)


def _broadcast_in_dim(reader, eqn, env, args):
    (value,) = args[:1]
    shape = tuple(eqn.params["shape"])
    expanded = [1] * len(shape)
    for axis, size in zip(eqn.params["broadcast_dimensions"], value.shape):
        expanded[axis] = size
    return np.broadcast_to(value.reshape(expanded), shape)


def _reduce(combine: Callable) -> Callable:
    def rule(reader, eqn, env, args):
        (value,) = args
        axes = tuple(eqn.params["axes"])
        kept = [d for d in range(value.ndim) if d not in axes]
        moved = np.transpose(value, kept + list(axes))
        rows = moved.reshape([value.shape[d] for d in kept] + [-1])
        out = np.empty(rows.shape[:-1], dtype=object)
        for index in np.ndindex(*out.shape):
            out[index] = combine(*rows[index])
        return out
    return rule


def _max(reader, eqn, env, args):
    """max(x, 0) is a relu; max(-inf, x) is x; any other max is an activation node ``a{k}``."""
    a, b = args
    shape = np.broadcast_shapes(a.shape, b.shape)
    for constant, other, position in ((a, b, 1), (b, a, 0)):
        if all(isinstance(e, sympy.Number) for e in constant.flat):
            if all(e == 0 for e in constant.flat):
                return reader.activate(_Operand(eqn, position), env, np.array(np.broadcast_to(other, shape)), relu)
            return _map(sympy.Max, a, b)
    a, b = (reader.share(eqn, env, k, v) for k, v in enumerate(args))
    reader.activations += 1
    return reader.graph.nodes(f"a{reader.activations}", _map(sympy.Max, a, b))


class _Operand:
    """An equation seen as if operand ``position`` were its first (for ``activate`` on max(0, x))."""

    def __init__(self, eqn, position: int):
        self.invars = [eqn.invars[position]]


def _select_n(reader, eqn, env, args):
    which, *cases = args
    if not all(e in (sympy.true, sympy.false) or isinstance(e, sympy.Integer) for e in which.flat):
        raise InvalidArgument(f"select_n chooses by the data here, which from_jax does not read (in: {_short(eqn)}); "
                              + _REWRITE)
    shape = np.broadcast_shapes(*(c.shape for c in args))
    which = np.broadcast_to(which, shape)
    cases = [np.broadcast_to(c, shape) for c in cases]
    out = np.empty(shape, dtype=object)
    for index in np.ndindex(*shape):
        out[index] = cases[int(bool(which[index]))][index]
    return out


def _inline(param: str) -> Callable:
    def rule(reader, eqn, env, args):
        closed = eqn.params[param]
        return reader.run(closed.jaxpr, list(closed.consts), args)
    return rule


def _unary(function: Callable) -> Callable:
    return lambda reader, eqn, env, args: _map(function, args[0])


def _binary(function: Callable) -> Callable:
    return lambda reader, eqn, env, args: _map(function, args[0], args[1])


def _activation(function: Callable) -> Callable:
    return lambda reader, eqn, env, args: reader.activate(eqn, env, args[0], function)


def _same(reader, eqn, env, args):
    return args[0]


#: Primitive name → rule (reader, equation, environment, operand arrays) → result array(s).
PRIMITIVES: dict[str, Callable] = {
    "add": _binary(lambda a, b: a + b),
    "sub": _binary(lambda a, b: a - b),
    "mul": _binary(lambda a, b: a * b),
    "div": _binary(lambda a, b: a / b),
    "neg": _unary(lambda a: -a),
    "integer_pow": lambda reader, eqn, env, args: _map(lambda a: a ** int(eqn.params["y"]), args[0]),
    "pow": _binary(lambda a, b: a ** b),
    "square": _unary(lambda a: a ** 2),
    "abs": _unary(sympy.Abs),
    "sign": _unary(sympy.sign),
    "max": _max,
    "tanh": _activation(sympy.tanh),
    "logistic": _activation(sigmoid),
    "exp": _activation(sympy.exp),
    "log": _activation(sympy.log),
    "dot_general": _dot_general,
    "broadcast_in_dim": _broadcast_in_dim,
    "reshape": lambda reader, eqn, env, args: args[0].reshape(tuple(eqn.params["new_sizes"])),
    "squeeze": lambda reader, eqn, env, args: np.squeeze(args[0], axis=tuple(eqn.params["dimensions"])),
    "expand_dims": lambda reader, eqn, env, args: np.expand_dims(args[0], tuple(eqn.params["dimensions"])),
    "transpose": lambda reader, eqn, env, args: np.transpose(args[0], tuple(eqn.params["permutation"])),
    "convert_element_type": _same,
    "copy": _same,
    "copy_p": _same,
    "reduce_sum": _reduce(lambda *terms: sympy.Add(*terms)),
    "reduce_max": _reduce(lambda *terms: sympy.Max(*terms)),
    "stop_gradient": lambda reader, eqn, env, args: reader.stop_gradient(args[0]),
    "is_finite": _unary(lambda a: sympy.true),
    "select_n": _select_n,
    "jit": _inline("jaxpr"),
    "pjit": _inline("jaxpr"),
    "custom_jvp_call": _inline("call_jaxpr"),
}


#: Primitives whose operands, when they are weighted sums of parameters, become nodes first (``share``).
_SHARED_OPERANDS = frozenset({"mul", "div", "integer_pow", "pow", "square", "abs"})


_REWRITE = "write a relu as jnp.maximum(x, 0) and a leaky relu as jnp.maximum(x, slope * x)"
_CHOICE = f"a comparison chooses a branch by the data (jnp.where, leaky_relu); {_REWRITE}"
#: Primitives refused with a specific way out, instead of the list of what is read.
_HINTS: dict[str, str] = {
    **{name: _CHOICE for name in ("ge", "gt", "le", "lt", "eq", "ne")},
    "custom_vjp_call": "a custom_vjp rule is what symgrad.testing checks, not part of a model to import; "
                       "import the function without it",
    **{name: "a loop is read only unrolled: write the layers as a Python for loop (jax traces it into "
             "straight-line code), not jax.lax.while_loop, fori_loop or scan" for name in ("while", "scan")},
    "cond": "a branch chosen by jax.lax.cond or switch is not read; choose it in Python before tracing",
    **{name: "indexing and slicing are not read (z[:, k], z[labels]): give example_target as one-hot float rows "
             "and write the loss with t * log_softmax(z) summed over the classes" for name in ("iota", "gather", "dynamic_slice",
                                                                          "slice", "concatenate")},
}


def _key_name(entry) -> str:
    for attribute in ("idx", "key", "name"):
        if hasattr(entry, attribute):
            return re.sub(r"\W", "_", str(getattr(entry, attribute)))
    return re.sub(r"\W", "_", str(entry))


def _array(value: object, what: str) -> np.ndarray:
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"{what} must be an array of numbers ({exc})") from None
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise InvalidArgument(f"{what} must be an array of numbers, got {value!r:.80}")
    return array


def from_jax(fn: Callable, params: object, *, example_input: object, example_target: object) -> ImportedModel:
    """A JAX loss function ``fn(params, inputs, targets)`` of dense layers as a symgrad network.

    ``params`` is a pytree of arrays (a list of dicts, a dict, …); its values become the
    network's parameters exactly. ``E_total`` is ``fn(params, example_input, example_target)``.
    Enable ``jax_enable_x64`` so that the jaxpr's constants are float64. Beyond
    ``limits.MAX_SCALAR_PARAMS`` parameters a function of dense layers is imported in the matrix
    form (``jax_matrix.py``), its values carried as W1, b1, … arrays.

    The example needs the ``jax`` extra; docs/how-to/import-torch-jax.md runs it.

    >>> import jax.numpy as jnp  # doctest: +SKIP
    >>> loss = lambda p, x, t: (jnp.tanh(x @ p["W"]) - t).sum() ** 2  # doctest: +SKIP
    >>> from_jax(loss, {"W": [[0.5], [1.0]]}, example_input=[1.0, 2.0],
    ...          example_target=[0.5]).network.params  # doctest: +SKIP
    ('params_W_0_0', 'params_W_1_0')
    """
    jax = require("jax", feature="from_jax", extra="jax")
    if not callable(fn):
        raise InvalidArgument(f"fn must be a function fn(params, inputs, targets) returning the loss, got {fn!r:.80}")
    paths, _ = jax.tree_util.tree_flatten_with_path(params)
    if not paths:
        raise InvalidArgument("params holds no arrays; give the model's parameters as a pytree of arrays")
    values = [_array(leaf, f"params{jax.tree_util.keystr(path)}") for path, leaf in paths]
    count = sum(v.size for v in values)
    if count > MAX_SCALAR_PARAMS and not jax.config.jax_enable_x64:
        raise InvalidArgument(f"params has {count:,} parameters, beyond the scalar form's {MAX_SCALAR_PARAMS:,}: the "
                              "matrix form compares float64 values; enable them first: "
                              "jax.config.update(\"jax_enable_x64\", True)")
    x = _array(example_input, "example_input")
    t = _array(example_target, "example_target")
    tree = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(params), values)
    try:
        closed = jax.make_jaxpr(fn)(tree, x, t)
    except Exception as exc:  # the user's function failed while tracing: shapes, types, Python errors
        raise InvalidArgument(f"tracing fn(params, example_input, example_target) with jax.make_jaxpr failed: "
                              f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}") from None
    jaxpr = closed.jaxpr
    if len(jaxpr.invars) != len(values) + 2:
        raise InvalidArgument("example_input and example_target must each be one array")
    if len(jaxpr.outvars) != 1 or tuple(jaxpr.outvars[0].aval.shape) != ():
        shapes = [tuple(v.aval.shape) for v in jaxpr.outvars]
        raise InvalidArgument(f"fn must return one scalar loss; it returns {len(shapes)} value(s) of shape "
                              f"{', '.join(map(str, shapes))}")
    if count > MAX_SCALAR_PARAMS:  # beyond the scalar form: the matrix form, with the JAX values
        named = [(f"params{jax.tree_util.keystr(path)}", v) for (path, _), v in zip(paths, values)]
        for what, value in named + [("example_input", x), ("example_target", t)]:
            bad = np.argwhere(~np.isfinite(value.astype(np.float64)))
            if len(bad):
                exact(value[tuple(bad[0])], what=f"{what}[{', '.join(map(str, bad[0]))}]")
        return matrix_model(fn, closed, [jax.tree_util.keystr(path) for path, _ in paths],
                            [v.astype(np.float64) for v in values], x.astype(np.float64), t.astype(np.float64),
                            unread=lambda eqn: None if eqn.name in PRIMITIVES else _unread(eqn.name, eqn.text))
    graph = ModelGraph(f"from jax: {getattr(fn, '__name__', 'fn')}, {len(jaxpr.eqns)} equations; "
                       f"example input of shape {x.shape}")
    args = []
    for (path, _leaf), value in zip(paths, values):
        keys = [_key_name(entry) for entry in path]
        name = "_".join(["params", *keys])
        args.append(graph.leaves("param", name, value.astype(np.float64), source=jax.tree_util.keystr(path),
                                 what=f"params{jax.tree_util.keystr(path)}"))
    args.append(graph.leaves("input", "x", x.astype(np.float64), what="example_input"))
    args.append(graph.leaves("target", "t", t.astype(np.float64), what="example_target"))
    (loss,) = _Reader(graph).run(jaxpr, list(closed.consts), args)
    return graph.finish(loss[()])
