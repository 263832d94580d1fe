"""The library's exceptions: one root, a few subclasses, messages a person can act on."""

from __future__ import annotations

__all__ = [
    "SymgradError",
    "SpecError",
    "ParseError",
    "GraphError",
    "NotDifferentiable",
    "PathLimitError",
    "PrecisionError",
    "MissingDependency",
    "InvalidArgument",
    "DomainError",
]


class SymgradError(Exception):
    """Root of every error symgrad raises on purpose; the CLI prints it and exits 2."""


class SpecError(SymgradError):
    """A spec file is invalid: names the file, the key and the fix."""

    def __init__(self, problem: str, *, source: str = "<spec>", key: str | None = None):
        self.source = source
        self.key = key
        self.problem = problem
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {problem}")


class ParseError(SymgradError):
    """An expression string is outside the allow-list or malformed."""


class GraphError(SymgradError):
    """A network is inconsistent: unknown name, duplicate, cycle, missing value."""


class InvalidArgument(SymgradError, ValueError):
    """An option has a bad value (digits, batch size, reduction, form, seed, learning rate).

    Kept apart from ``GraphError``: the network is fine, the request is not.
    """


class DomainError(SymgradError, ArithmeticError):
    """A value or derivative does not exist as a real number at the point asked.

    Division by zero, log of zero or a negative, a square root of a negative, 0·∞, or a
    magnitude beyond what exact evaluation will attempt. The message names the node and
    the point.
    """


class NotDifferentiable(SymgradError):
    """A gradient was asked through a node that has none (zero-one loss)."""


class PathLimitError(SymgradError):
    """The sum over paths is too large to enumerate; use the adjoint form."""


class PrecisionError(SymgradError):
    """The requested digits could not be certified at any working precision tried."""


class MissingDependency(SymgradError, ImportError):
    """An optional extra is needed for this feature; the message gives the install command."""

    def __init__(self, feature: str, *, extra: str, module: str):
        self.extra = extra
        self.module = module
        super().__init__(f"{feature} needs {module}, which is not installed; "
                         f"install it with: python -m pip install \"symgrad[{extra}]\"")


def shorten(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters with a trailing "...", for quoting a bad value in a message.

    >>> shorten("x" * 100, 10)
    'xxxxxxx...'
    """
    return text if len(text) <= limit else text[:limit - 3] + "..."
