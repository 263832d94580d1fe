"""Printing SymPy expressions as NumPy source, through the function table.

A small printer of our own rather than SymPy's NumPyPrinter: it must route every function
through ``functions.FUNCTIONS`` (the stable kernels), name temporaries after the graph's
quantities, and keep the code finite for pre-activations of any size: the printer writes
log(sigmoid(a)) and log(1 + exp(a)) as softplus, and callers print expressions after
``stabilize`` (``symgrad.stable``, re-exported here), which rewrites 1/(1 + e^a) into σ(−a)
and e^a/(1 + e^a) into σ(a).

Generated names never collide with anything a module uses: ``Names`` reserves every builtin,
every kernel and helper, ``np`` and the module's own variables, and renames a spec name that
would clash (``float`` becomes ``v_float``).

>>> names = Names()
>>> names.get("float"), names.get("__w"), names.get("w")
('v_float', 'v___w', 'w')
"""

from __future__ import annotations

import builtins
import functools
import inspect
import keyword
import math
import re
from typing import Callable

import numpy as np
import sympy

from . import kernels
from .errors import GraphError
from .functions import rule_for, sigmoid
from .stable import one_plus_exp, stabilize

__all__ = ["Names", "NumpyPrinter", "kernel_closure", "kernel_source", "stabilize", "float_literal", "joined", "RESERVED"]

_KERNELS = {name: obj for name, obj in vars(kernels).items() if inspect.isfunction(obj)}
#: Every name a generated module uses for itself: module globals, helpers, locals, kernels, builtins.
RESERVED = frozenset(
    {"np", "params", "inputs", "targets", "loss", "grads", "batch", "scale", "total", "dot_total", "leaves",
     "points", "per_point", "shape", "lse", "value_and_grad", "value_and_grad_at", "N_INPUTS", "N_TARGETS",
     "INPUTS", "TARGETS", "PARAMS", "DEFAULTS", "T", "dL_dyhat"}
    | set(_KERNELS) | set(dir(builtins)) | set(keyword.kwlist) | set(keyword.softkwlist))


class Names:
    """Python identifiers for graph quantities: the name itself unless it would clash.

    A name that is reserved, private (``_x``) or already taken gets the prefix of its role
    (``v_`` for values, ``delta_`` for adjoints, ``cse_`` for shared subexpressions) and, if
    still taken, a numeric suffix; so allocation always ends.
    """

    def __init__(self, reserved: set[str] | None = None):
        self.used = set(RESERVED | (reserved or set()))
        self.table: dict[tuple[str, str], str] = {}

    def get(self, name: str, role: str = "value") -> str:
        key = (role, name)
        if key not in self.table:
            candidate = name if role == "value" else f"{role}_{name}"
            if candidate in self.used or candidate.startswith("_") or not candidate.isidentifier():
                candidate = f"{'v' if role == 'value' else role}_{name}"
            base, k = candidate, 1
            while candidate in self.used:
                k += 1
                candidate = f"{base}_{k}"
            self.used.add(candidate)
            self.table[key] = candidate
        return self.table[key]


def float_literal(value, *, what: str = "a constant") -> str:
    """``value`` as a float64 literal; refuses a value beyond float64's range (it would print ``inf``)."""
    number = float(value)
    if not math.isfinite(number):
        text = sympy.sstr(sympy.N(value, 5)) if isinstance(value, sympy.Basic) else repr(value)
        raise GraphError(f"{what} is {text}, beyond the float64 range (about ±1.8e308) of compiled code; "
                         "rescale it, or use exact evaluation (symgrad report) instead")
    text = repr(number)
    return f"({text})" if text.startswith("-") else text


def joined(terms: list[str]) -> str:
    """Source terms as one sum: a term written with a leading minus is subtracted (``a - b``, ``a - (b*c)``).

    >>> joined(["h2", "-T", "-(x*x)"])
    'h2 - T - (x*x)'
    """
    expr = terms[0]
    for term in terms[1:]:
        expr += f" - {term[1:]}" if term.startswith("-") else f" + {term}"
    return expr


class NumpyPrinter:
    """SymPy expression → NumPy source over named temporaries; records the kernels it uses."""

    def __init__(self, names: Names):
        self.names = names
        self.kernels: set[str] = set()
        self.override: dict[sympy.Symbol, str] = {}

    def with_override(self, mapping: dict, expr: sympy.Expr) -> str:
        """Print ``expr`` with some symbols standing for given source text (matrix names)."""
        saved = self.override
        self.override = {**saved, **mapping}
        try:
            return self.print(expr)
        finally:
            self.override = saved

    def __call__(self, expr: sympy.Expr) -> str:
        return self.print(expr)

    def print(self, expr: sympy.Expr) -> str:
        if expr.is_Symbol:
            if expr in self.override:
                return self.override[expr]
            return self.names.get(expr.name)
        if expr.is_Number or expr.is_NumberSymbol:
            return float_literal(expr)
        if expr.is_Add:
            ordered = _printing_order(expr)
            return joined([self.print(a) for a in ordered])
        if expr.is_Mul:
            return self.mul(expr)
        if expr.is_Pow:
            return self.pow(expr)
        if expr.func is sympy.log:
            return self.log(expr.args[0])
        rule = rule_for(expr.func)
        if rule is None:
            raise GraphError(f"no NumPy translation for {expr.func.__name__}")
        args = ", ".join(self.print(a) for a in expr.args)
        fn = rule.numpy
        if isinstance(fn, np.ufunc):
            return f"np.{fn.__name__}({args})"
        self.kernels.add(fn.__name__)
        return f"{fn.__name__}({args})"

    def atom(self, expr: sympy.Expr) -> str:
        text = self.print(expr)
        if expr.is_Symbol or expr.is_Function or (expr.is_Number and not text.startswith("(")):
            return text
        return f"({text})"

    def mul(self, expr: sympy.Expr) -> str:
        coeff, rest = expr.as_coeff_Mul()
        factors = sympy.Mul.make_args(rest)
        numer = [f for f in factors if not (f.is_Pow and f.exp.is_Number and f.exp < 0)]
        denom = [f.base ** (-f.exp) for f in factors if f.is_Pow and f.exp.is_Number and f.exp < 0]
        body = "*".join(self.atom(f) for f in numer) if numer else "1.0"
        if denom:
            d = "*".join(self.atom(f) for f in denom)
            body = f"{body}/({d})" if len(denom) > 1 else f"{body}/{d}"
        if coeff == 1:
            return body
        if coeff == -1:
            return f"-{body}"
        return f"{float_literal(coeff)}*{body}"

    def pow(self, expr: sympy.Expr) -> str:
        base, exp = expr.args
        if exp == sympy.S.Half:
            return f"np.sqrt({self.print(base)})"
        if exp == -1:
            return f"1.0/{self.atom(base)}"
        if exp == 2:
            b = self.atom(base)
            return f"{b}*{b}" if base.is_Symbol else f"np.square({self.print(base)})"
        if exp.is_Integer:
            return f"{self.atom(base)}**{int(exp)}"
        return f"np.power({self.print(base)}, {self.print(exp)})"

    def log(self, arg: sympy.Expr) -> str:
        # log σ(a) = −softplus(−a), log(1 + e^a) = softplus(a): finite for every a.
        if isinstance(arg, sigmoid):
            self.kernels.add("softplus")
            return f"(-softplus({self.print(-arg.args[0])}))"
        z = one_plus_exp(arg)
        if z is not None:
            self.kernels.add("softplus")
            return f"softplus({self.print(z)})"
        return f"np.log({self.print(arg)})"


@functools.lru_cache(maxsize=4096)
def _printing_order(expr: sympy.Add) -> tuple:
    """A sum's terms in SymPy's printing order, positive terms first (so h2 - T is one pass rather
    than -T + h2). Kept per expression: the ordering is most of the cost of printing a new network's
    code, and drawn networks share most of their sums (``w1*i1 + w2*i2 + b1``)."""
    return tuple(sorted(expr.as_ordered_terms(), key=lambda a: a.could_extract_minus_sign()))


def kernel_closure(functions: dict[str, Callable], wanted: set[str]) -> list[str]:
    """The kernels named and every kernel of ``functions`` they call, callees first (ties by name).

    A kernel calls another when its source has ``other(``. Callees come first because numba
    resolves a call when it compiles the caller; the order is stable across runs.
    """
    calls: dict[str, set[str]] = {}  # every kernel needed, and the kernels it calls
    frontier = list(wanted)
    while frontier:
        name = frontier.pop()
        if name not in calls:
            source = kernel_text(functions[name])
            calls[name] = {other for other in functions if other != name and re.search(rf"\b{other}\(", source)}
            frontier += calls[name]
    ordered: list[str] = []
    while len(ordered) < len(calls):
        left = set(calls) - set(ordered)
        ordered += sorted(n for n in left if not calls[n] & (left - {n}))
    return ordered


def kernel_source(names: set[str]) -> str:
    """The source of the kernels named, and of the kernels they call, in order of name."""
    chosen = sorted(kernel_closure(_KERNELS, names))
    return "\n\n".join(kernel_text(_KERNELS[n]).strip() for n in chosen)


@functools.cache
def kernel_text(function: Callable) -> str:
    """A kernel's source, read once: ``inspect.getsource`` tokenizes the whole file on every call."""
    return inspect.getsource(function)
