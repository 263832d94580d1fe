"""A JAX loss beyond the scalar form's size, read from its jaxpr as a dense stack (the matrix form).

``from_jax`` calls ``matrix_model`` when ``params`` holds more than ``limits.MAX_SCALAR_PARAMS``
numbers. The jaxpr (with ``jit``, ``pjit`` and ``custom_jvp_call`` read through) must be
``mlp``'s shape. Each layer is ``dot_general`` of the previous layer's output (the input first)
with a 2-D parameter — ``x @ W`` (W in × out) or ``x @ W.T`` (out × in) —, then optionally
``add`` of a bias parameter (broadcast or not), then, before the next layer, one activation:
``tanh``, ``logistic`` (``jax.nn.sigmoid``), ``max(z, 0)`` (``jax.nn.relu``) or ``max(z, c·z)``
(a leaky ReLU). The same activation between every two layers; every parameter used once.

Everything after the last layer's output z is the loss. It may read only z, the targets and
constants, through primitives ``from_jax`` reads, and it must be, as a function of z, one of
the losses the matrix form computes: an output activation (identity, sigmoid, tanh, relu), then
mse, sse, half_sse, softmax cross-entropy, bce or l1, the mean or the sum over the batch. The
loss is identified by value: JAX evaluates it at the example's z and at random z, and each
candidate (``CANDIDATE_LOSSES``) must agree with it to 1e-9 at every point. Anything else is
refused, naming the primitive or the shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .dense_stack import DenseLayer, DenseStack, dense_stack, matrix_import
from .errors import InvalidArgument
from .limits import MAX_SCALAR_PARAMS
from .model_import import ImportedModel, TensorSource

__all__ = ["matrix_model", "CANDIDATE_LOSSES"]

_CALLS = {"jit": "jaxpr", "pjit": "jaxpr", "custom_jvp_call": "call_jaxpr"}
_SAME = frozenset({"convert_element_type", "copy", "copy_p"})
_SHAPES = frozenset({"broadcast_in_dim", "reshape", "expand_dims", "squeeze"})
_LAYERS_READ = ("dense layers (x @ W or x @ W.T with a parameter W, + b, then one activation: jnp.tanh, "
                "jax.nn.sigmoid, jax.nn.relu or jnp.maximum(z, 0), jnp.maximum(z, slope * z))")


def _rowwise_lse(o: np.ndarray) -> np.ndarray:
    m = o.max(axis=-1, keepdims=True)
    return m + np.log(np.exp(o - m).sum(axis=-1, keepdims=True))


#: mlp loss name → its per-sample value of outputs o and targets t (rows), as layers.LOSSES defines it.
CANDIDATE_LOSSES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "mse": lambda o, t: ((o - t) ** 2).mean(axis=-1),
    "sse": lambda o, t: ((o - t) ** 2).sum(axis=-1),
    "half_sse": lambda o, t: 0.5 * ((t - o) ** 2).sum(axis=-1),
    "softmax_cross_entropy": lambda o, t: -(t * (o - _rowwise_lse(o))).sum(axis=-1),
    "bce": lambda o, t: -(t * np.log(o) + (1 - t) * np.log(1 - o)).sum(axis=-1),
    "l1": lambda o, t: np.abs(o - t).sum(axis=-1),
}
_OUTPUTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda z: z, "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0)}


@dataclass
class _Eqn:
    """One equation of the jaxpr with its calls read through: operands are keys (scope, var) or constants."""

    name: str
    primitive: object
    params: dict
    invars: list
    outvars: list
    text: str


@dataclass
class _Program:
    eqns: list[_Eqn] = field(default_factory=list)
    constants: dict = field(default_factory=dict)  # key → array
    alias: dict = field(default_factory=dict)  # a call's result key → the operand it is
    scopes: int = 0


class _Literal:
    def __init__(self, value):
        self.value = np.asarray(value)


def _short(eqn) -> str:
    text = " ".join(str(eqn).split())
    return text if len(text) <= 120 else text[:117] + "..."


def _flatten(program: _Program, jaxpr, consts, scope: int, alias: dict) -> None:
    """Append ``jaxpr``'s equations to ``program``, reading calls through; ``alias`` maps keys to operands."""
    def operand(var):
        if type(var).__name__ == "Literal":
            return _Literal(var.val)
        key = (scope, var)
        return alias.get(key, key)

    for var, value in zip(jaxpr.constvars, consts):
        program.constants[(scope, var)] = np.asarray(value)
    for eqn in jaxpr.eqns:
        ins = [operand(v) for v in eqn.invars]
        name = eqn.primitive.name
        if name in _CALLS:
            closed = eqn.params[_CALLS[name]]
            inner = getattr(closed, "jaxpr", closed)
            program.scopes += 1
            inner_scope = program.scopes
            for var, value in zip(inner.invars, ins):
                alias[(inner_scope, var)] = value
            _flatten(program, inner, getattr(closed, "consts", []), inner_scope, alias)
            for var, inner_var in zip(eqn.outvars, inner.outvars):
                alias[(scope, var)] = (_Literal(inner_var.val) if type(inner_var).__name__ == "Literal"
                                       else alias.get((inner_scope, inner_var), (inner_scope, inner_var)))
            continue
        program.eqns.append(_Eqn(name, eqn.primitive, dict(eqn.params), ins, [(scope, v) for v in eqn.outvars],
                                 _short(eqn)))


@dataclass(frozen=True)
class _Tag:
    """What a variable of the layers is: the layer output "h" (layer 0 is the input), a "param" (maybe
    transposed), a "bias" (a parameter broadcast), a product "xw", a pre-activation "z", or "scaled" c·z."""

    kind: str
    layer: int = 0
    param: int = -1
    transposed: bool = False
    slope: float = 0.0
    of: object = None  # for "scaled": the key of z in c·z


@dataclass
class _Layer:
    weight: int
    transposed: bool  # symgrad's W (out × in) is the parameter's transpose
    bias: int | None = None
    activation: tuple[str, str | None] | None = None
    z: object = None  # the key of the pre-activation (xw or z)
    defined_at: int = -1  # index of the equation defining z


class _Matcher:
    """Tags the layers' equations in order; ``match`` returns False for an equation that is no layer's."""

    def __init__(self, values: list[np.ndarray], names: list[str]):
        self.values, self.names = values, names
        self.tags: dict = {}
        self.layers: list[_Layer] = []
        self.used: set[int] = set()

    def tag(self, operand) -> _Tag | None:
        return None if isinstance(operand, _Literal) else self.tags.get(operand)

    def match(self, k: int, eqn: _Eqn) -> bool:
        tags = [self.tag(v) for v in eqn.invars]
        out = eqn.outvars[0] if eqn.outvars else None
        rule = {"dot_general": self._dot, "add": self._add, "transpose": self._transpose, "mul": self._mul,
                "max": self._max, "tanh": self._activation, "logistic": self._activation}.get(eqn.name)
        if eqn.name in _SAME and tags[0] is not None:
            result = tags[0] if np.dtype(eqn.params.get("new_dtype", np.float64)) == np.float64 else None
        elif eqn.name == "reshape" and tags[0] == _Tag("h", layer=0):
            result = self._flat_input(eqn)
        elif eqn.name in _SHAPES and tags[0] is not None and tags[0].kind in ("param", "bias"):
            result = self._bias_shape(eqn, tags[0])
        elif rule is not None:
            result = rule(eqn, tags)
        else:
            result = None
        if result is None:
            return False
        self.tags[out] = result
        if result.kind in ("xw", "z"):
            self.layers[-1].z, self.layers[-1].defined_at = out, k
        return True

    def _flat_input(self, eqn) -> _Tag | None:
        """The input reshaped to rows (images (N, 28, 28) to (N, 784)): still the input, one sample per row."""
        before, after = _shape(eqn.invars[0]), _shape(eqn.outvars[0])
        rows = len(after) == 1 or (len(after) == 2 and after[0] == before[0])
        return _Tag("h", layer=0) if rows and not self.layers else None

    def _fresh(self, tag: _Tag | None) -> bool:
        """A parameter not used yet (each parameter is one layer's weight or bias)."""
        return tag is not None and tag.kind in ("param", "bias") and tag.param not in self.used

    def _transpose(self, eqn, tags):
        (t,) = tags
        if t is not None and t.kind == "param" and tuple(eqn.params["permutation"]) == (1, 0):
            return _Tag("param", param=t.param, transposed=not t.transposed)
        return None

    def _bias_shape(self, eqn, t: _Tag):
        """A parameter of one row ((out,) or (1, out)) broadcast or reshaped along the rows: a bias."""
        shape, value = _shape(eqn.outvars[0]), self.values[t.param]
        if eqn.name == "broadcast_in_dim":
            dims = tuple(eqn.params["broadcast_dimensions"])
            if not dims or dims[-1] != len(shape) - 1:
                return None
        one_row = value.ndim >= 1 and value.size == value.shape[-1]
        return _Tag("bias", param=t.param) if one_row and shape and shape[-1] == value.size else None

    def _dot(self, eqn, tags):
        (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
        if list(lb) or list(rb) or len(lc) != 1:
            return None
        a, b = tags
        if any(t is not None and t.kind in ("xw", "z") for t in tags) and any(self._fresh(t) for t in tags):
            raise InvalidArgument(f"the matrix form takes dense layers with one activation between each two; "
                                  f"layer {len(self.layers)}'s weighted sum goes into the next layer without one "
                                  f"(in: {eqn.text})")
        ha, hb = (t is not None and t.kind == "h" and t.layer == len(self.layers) for t in (a, b))
        if ha and self._fresh(b) and b.kind == "param":
            h, p, h_contract, p_contract, h_operand = a, b, lc[0], rc[0], eqn.invars[0]
        elif hb and self._fresh(a) and a.kind == "param" and len(_shape(eqn.invars[1])) == 1:
            h, p, h_contract, p_contract, h_operand = b, a, rc[0], lc[0], eqn.invars[1]  # W @ x, one sample
        else:
            return None
        if len(_shape(h_operand)) not in (1, 2) or h_contract != len(_shape(h_operand)) - 1 \
                or self.values[p.param].ndim != 2:
            return None
        if self.layers and self.layers[-1].activation is None:
            return None
        self.used.add(p.param)
        # the matrix M the product sees is P or Pᵀ; symgrad's W (out × in) is Mᵀ when M's rows are the inputs
        self.layers.append(_Layer(p.param, (p_contract == 0) != p.transposed))
        return _Tag("xw", layer=len(self.layers))

    def _add(self, eqn, tags):
        for xw, bias in (tags, tags[::-1]):
            if xw is not None and xw.kind == "xw" and xw.layer == len(self.layers) and self._fresh(bias):
                if self.values[bias.param].size != _shape(eqn.outvars[0])[-1]:
                    return None
                self.used.add(bias.param)
                self.layers[-1].bias = bias.param
                return _Tag("z", layer=xw.layer)
        return None

    def _pre_activation(self, t: _Tag | None) -> bool:
        return t is not None and t.kind in ("xw", "z") and t.layer == len(self.layers) \
            and self.layers[-1].activation is None

    def _activate(self, name: str, slope: str | None):
        self.layers[-1].activation = (name, slope)
        return _Tag("h", layer=len(self.layers))

    def _activation(self, eqn, tags):
        if not self._pre_activation(tags[0]):
            return None
        return self._activate({"tanh": "tanh", "logistic": "sigmoid"}[eqn.name], None)

    def _mul(self, eqn, tags):
        for k in (0, 1):
            z, c = tags[k], eqn.invars[1 - k]
            if self._pre_activation(z) and isinstance(c, _Literal) and c.value.size == 1:
                return _Tag("scaled", layer=z.layer, slope=float(c.value), of=eqn.invars[k])
        return None

    def _max(self, eqn, tags):
        for k in (0, 1):
            z, other, other_tag = tags[k], eqn.invars[1 - k], tags[1 - k]
            if not self._pre_activation(z):
                continue
            if isinstance(other, _Literal) and other.value.size == 1 and float(other.value) == 0:
                return self._activate("relu", None)
            if other_tag is not None and other_tag.kind == "scaled" and other_tag.layer == z.layer \
                    and 0 < other_tag.slope < 1 and other_tag.of == eqn.invars[k]:
                return self._activate("leaky_relu", str(other_tag.slope))
        return None


def _shape(operand) -> tuple[int, ...]:
    if isinstance(operand, _Literal):
        return operand.value.shape
    return tuple(operand[1].aval.shape)


def _describe(tag: _Tag | None, names: list[str]) -> str:
    if tag is None:
        return "a value computed before the last layer"
    if tag.kind in ("param", "bias"):
        return f"params{names[tag.param]}"
    if tag.kind == "h":
        return "the inputs" if tag.layer == 0 else f"the output of layer {tag.layer}"
    return f"layer {tag.layer}'s weighted sum"


def _layers_error(eqn: _Eqn) -> InvalidArgument:
    return InvalidArgument(f"the layers use {eqn.name!r} (in: {eqn.text}) where a dense layer was expected; beyond "
                           f"{MAX_SCALAR_PARAMS:,} parameters from_jax reads {_LAYERS_READ}, then a loss")


def _check_tail(program: _Program, matcher: _Matcher, tail: list[_Eqn], start: set, names: list[str],
                unread: Callable[[_Eqn], InvalidArgument | None], unmatched: _Eqn | None) -> None:
    """The loss reads only the last layer's output, the targets, constants and its own results.

    A product with a parameter there means the layers went on after an equation no layer has
    (``unmatched``, the first after the last layer found): that equation is named."""
    more_layers = any(e.name == "dot_general" and any(
        (matcher.tag(v) or _Tag("")).kind == "param" for v in e.invars) for e in tail)
    if more_layers and unmatched is not None:
        raise unread(unmatched) or _layers_error(unmatched)
    known = set(start)
    for eqn in tail:
        problem = unread(eqn)
        if problem is not None:
            raise problem
        for operand in eqn.invars:
            if isinstance(operand, _Literal) or operand in known or operand in program.constants:
                continue
            raise InvalidArgument(f"the loss reads {_describe(matcher.tag(operand), names)} (in: {eqn.text}); "
                                  f"beyond {MAX_SCALAR_PARAMS:,} parameters the loss may read only the last layer's "
                                  "output and the targets (an L2 penalty or a skip connection is imported in the "
                                  "scalar form only)")
        known.update(eqn.outvars)


def _run(eqns: list[_Eqn], env: dict, constants: dict) -> dict:
    """Run ``eqns`` with JAX's own primitives on the arrays in ``env`` (keys → arrays); returns ``env``."""
    def read(operand):
        if isinstance(operand, _Literal):
            return operand.value
        return env[operand] if operand in env else constants[operand]

    for eqn in eqns:
        outs = eqn.primitive.bind(*(read(v) for v in eqn.invars), **eqn.params)
        outs = outs if eqn.primitive.multiple_results else [outs]
        env.update(zip(eqn.outvars, outs))
    return env


def _identify(loss_at: Callable[[np.ndarray], float], z0: np.ndarray, t: np.ndarray) -> tuple[str, str, str] | None:
    """(output activation, loss, reduction) whose value agrees with ``loss_at`` at z0 and at random z, or None."""
    rng = np.random.default_rng(0)
    scale = max(1.0, float(np.std(z0)))
    points = [z0, z0 + 0.1 * scale * rng.standard_normal(z0.shape), scale * rng.standard_normal(z0.shape),
              rng.standard_normal(z0.shape)]
    values = [loss_at(z) for z in points]
    rows_t = t.reshape(-1, t.shape[-1]) if t.ndim else t.reshape(1, 1)
    with np.errstate(all="ignore"):
        for output, activate in _OUTPUTS.items():
            for loss, per_sample in CANDIDATE_LOSSES.items():
                if (loss == "bce" and output != "sigmoid") or (loss == "softmax_cross_entropy" and output != "identity"):
                    continue
                for reduction in ("mean", "sum"):
                    reduce = np.mean if reduction == "mean" else np.sum
                    ours = [float(reduce(per_sample(activate(z.reshape(rows_t.shape)), rows_t))) for z in points]
                    if all(np.isfinite(a) and np.isclose(a, b, rtol=1e-9, atol=1e-12) for a, b in zip(ours, values)):
                        return output, loss, reduction
    return None


def matrix_model(fn: Callable, closed, names: list[str], values: list[np.ndarray], x: np.ndarray, t: np.ndarray,
                 *, unread: Callable[[object], InvalidArgument | None]) -> ImportedModel:
    """The matrix-form import of a traced loss; ``names[i]`` is parameter i's key path ("[0]['W']"),
    ``unread(eqn)`` the error for a primitive ``from_jax`` does not read (None when it does)."""
    program = _Program()
    _flatten(program, closed.jaxpr, list(closed.consts), 0, program.alias)
    keys = [(0, v) for v in closed.jaxpr.invars]
    matcher = _Matcher(values, names)
    for i, key in enumerate(keys[:-2]):
        matcher.tags[key] = _Tag("param", param=i)
    matcher.tags[keys[-2]] = _Tag("h", layer=0)
    unmatched = [k for k, eqn in enumerate(program.eqns) if not matcher.match(k, eqn)]
    if not matcher.layers and unmatched:
        raise unread(program.eqns[unmatched[0]]) or _layers_error(program.eqns[unmatched[0]])
    if not matcher.layers:
        raise InvalidArgument(f"no dense layer found (a dot_general of the inputs with a parameter); beyond "
                              f"{MAX_SCALAR_PARAMS:,} parameters from_jax reads {_LAYERS_READ}, then a loss")
    last = matcher.layers[-1]
    for k in (k for k in unmatched if k < last.defined_at):
        raise unread(program.eqns[k]) or _layers_error(program.eqns[k])
    tail = program.eqns[last.defined_at + 1:]
    after = next((program.eqns[k] for k in unmatched if k > last.defined_at), None)
    _check_tail(program, matcher, tail, {last.z, keys[-1]}, names, unread, after)
    unused = [names[i] for i in range(len(values)) if i not in matcher.used]
    if unused:
        raise InvalidArgument(f"params{unused[0]} is not a weight or bias of the dense layers; beyond "
                              f"{MAX_SCALAR_PARAMS:,} parameters every parameter must be one layer's weight or bias")
    z_shape = _shape(last.z)
    if t.shape != z_shape:
        raise InvalidArgument(f"example_target has shape {t.shape}; beyond {MAX_SCALAR_PARAMS:,} parameters the "
                              f"targets must be shaped like the last layer's output, {z_shape} (one-hot rows for "
                              "a classifier)")
    loss_key = program.alias.get((0, closed.jaxpr.outvars[0]), (0, closed.jaxpr.outvars[0]))
    env = _run(program.eqns, {key: value for key, value in zip(keys, values + [x, t])}, program.constants)
    z0 = np.asarray(env[last.z], dtype=np.float64)
    value = float(env[loss_key])

    def loss_at(z: np.ndarray) -> float:
        return float(_run(tail, {last.z: z, keys[-1]: t}, program.constants)[loss_key])

    found = _identify(loss_at, z0, t)
    if found is None:
        raise InvalidArgument(f"the loss of the last layer's output is none the matrix form computes: an output "
                              f"activation ({', '.join(_OUTPUTS)}), then {', '.join(CANDIDATE_LOSSES)}, the mean or "
                              f"the sum over the batch (compared by value at the example and at random outputs); "
                              f"up to {MAX_SCALAR_PARAMS:,} parameters the scalar form reads any loss of the "
                              "primitives from_jax reads")
    return _imported(fn, matcher, names, values, found, x, t, value)


def _imported(fn: Callable, matcher: _Matcher, names: list[str], values: list[np.ndarray], found: tuple[str, str, str],
              x: np.ndarray, t: np.ndarray, value: float) -> ImportedModel:
    """The stack as an ``ImportedModel``, its compiled loss checked against JAX's value at the example."""
    layers = []
    for k, layer in enumerate(matcher.layers, start=1):
        w = values[layer.weight]
        b = None if layer.bias is None else values[layer.bias]
        layers.append(DenseLayer(
            (w.T if layer.transposed else w).astype(np.float64),
            None if b is None else b.reshape(-1).astype(np.float64),
            TensorSource(names[layer.weight], w.shape, layer.transposed),
            None if b is None else TensorSource(names[layer.bias], b.shape),
            f"layer {k} (params{names[layer.weight]})"))
    between = [layer.activation or ("no activation", None) for layer in matcher.layers[:-1]]
    output, loss, reduction = found
    stack: DenseStack = dense_stack(layers, between, output_activation=output, loss=loss, reduction=reduction,
                                    framework="jax")
    imported = matrix_import(stack, x, t, description=getattr(fn, "__name__", "fn"))
    ours, _ = imported.compiled_gradients()
    if not np.isclose(ours, value, rtol=1e-9, atol=1e-12):
        raise InvalidArgument(f"the matrix form's loss {ours!r} differs from fn's {value!r} at the example: "
                              "the function computes something the matrix form does not (a float32 cast?); "
                              "import a smaller model in the scalar form, or report it")
    return imported
