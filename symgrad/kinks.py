"""Kinks near the checked point: relu, abs, max, min and hinge arguments that change sign within a step.

A finite difference across a kink measures neither one-sided derivative, so gradcheck
looks for kinks in the graph (from the function table's ``smooth`` flag), tests each
argument's sign at the stencil points, and then checks the gradient against the one-sided
differences instead (a subgradient check). The complex step needs no kink at all.
"""

from __future__ import annotations

import mpmath
import sympy

from .arithmetic import mp_value_at
from .errors import InvalidArgument
from .finite_differences import Scheme
from .functions import rule_for
from .graph import Network
from .precision import GRADCHECK_WORKING_DIGITS
from .tolerance import loss_error

__all__ = ["Kink", "kink_arguments", "kink_within", "one_sided_differences", "check_analytic"]

Kink = tuple[str, str, sympy.Expr]  # (node, function, argument whose sign change is the kink)


def kink_arguments(network: Network, nodes: tuple[str, ...]) -> list[Kink]:
    """(node, function, argument) for every argument in ``nodes`` whose sign change is a kink."""
    out = []
    for name in (n for n in nodes if n in network.nodes):
        for sub in sympy.preorder_traversal(network.nodes[name].expr):
            rule = rule_for(sub.func)  # Max and Min are not sympy.Function instances: look up every head
            if rule is None or rule.smooth:
                continue
            head = rule.spec_name or rule.head.__name__
            if rule.head in (sympy.Max, sympy.Min):
                args = sub.args
                out += [(name, head, args[i] - args[j]) for i in range(len(args)) for j in range(i + 1, len(args))]
            else:
                out.append((name, head, sub.args[0]))
    return out


def kink_within(kinks: list[Kink], values: dict[int, dict], scheme: Scheme) -> str | None:
    """The first kink argument that changes sign (or touches 0) between the stencil points, described.

    ``values[k]`` holds the exact value of every quantity at the stencil point x + k·η·v, by
    name, and may hold an argument's value already, under the argument itself.
    """
    span = [k for k in (-2, -1, 0, 1, 2) if _in_step(k, scheme)]
    for node, head, arg in kinks:
        vals = [values[k][arg] if arg in values[k] else mp_value_at(arg, values[k], GRADCHECK_WORKING_DIGITS)
                for k in span]
        signs = {(val > 0) - (val < 0) for val in vals}
        if len(signs) > 1:
            return f"{head} in node {node!r} (argument {sympy.sstr(arg)} = {mpmath.nstr(vals[span.index(0)], 6)})"
    return None


def _in_step(k: int, scheme: Scheme) -> bool:
    """Whether the stencil point x + k·η·v lies within the scheme's reach."""
    if scheme.name == "forward":
        return k in (0, 1)
    if scheme.name == "backward":
        return k in (-1, 0)
    if scheme.name == "richardson":
        return True
    return k in (-1, 0, 1)


def one_sided_differences(losses: dict, slopes: dict, eta: float) -> tuple[float, float, float]:
    """The one-sided differences at step η (low, high), and a slack: truncation on each side + round-off.

    ``losses[k]`` and ``slopes[k]`` are the float64 loss and the slope ∇f·v at x + k·η·v.
    """
    plus = (losses[1] - losses[0]) / eta
    minus = (losses[0] - losses[-1]) / eta
    curvature = max(abs(float(slopes[2] - slopes[1])), abs(float(slopes[-1] - slopes[-2]))) / eta
    f_error = loss_error(max(abs(losses[k]) for k in (-1, 0, 1)))
    slack = 2 * (eta * curvature / 2 + 2 * f_error / eta)
    return min(plus, minus), max(plus, minus), slack


def _downstream(network: Network, leaves: set[str]) -> tuple[str, ...]:
    """Nodes that depend on any of ``leaves`` and feed the output, in graph order."""
    feeding = set(network.ancestors(network.output))
    reached = set(leaves)
    for name, node in network.nodes.items():
        if any(op in reached for op in node.operands):
            reached.add(name)
    return tuple(n for n in network.nodes if n in reached and n in feeding)


def check_analytic(network: Network, names: tuple[str, ...]) -> None:
    """InvalidArgument unless every node between ``names`` and the output is analytic (for the complex step)."""
    for node_name in _downstream(network, set(names)):
        for sub in sympy.preorder_traversal(network.nodes[node_name].expr):
            rule = rule_for(sub.func)
            if rule is not None and not (rule.smooth and rule.differentiable):
                raise InvalidArgument(
                    f"scheme 'complex' needs every node between the parameters and the output to be analytic, "
                    f"but node {node_name!r} uses {rule.spec_name or rule.head.__name__}, which has a kink; "
                    "use scheme='central'")
