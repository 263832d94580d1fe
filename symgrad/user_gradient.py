"""The user's own gradient function (``--against FILE:FUNC``): loading it, calling it, reading its answer.

Everything the user's code can do wrong (a missing file, an exception, a wrong key, a
tensor that refuses conversion, NaN) becomes an ``InvalidArgument`` that says what and the
fix. That includes ``BaseException``s other than ``KeyboardInterrupt`` (``SystemExit``,
``GeneratorExit``, a class of the user's own): the user's code is reported as the user's
error, never as symgrad's traceback or a silent exit. Its prints go to stderr so they never
mix into symgrad's JSON.
"""

from __future__ import annotations

import contextlib
import importlib.util
import numbers
import sys
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from .errors import InvalidArgument, shorten

__all__ = ["load_gradient_function", "call_gradient_function", "describe_value"]


def load_gradient_function(text: str) -> Callable[[dict[str, float]], Mapping[str, object]]:
    """The function FUNC in FILE for ``"FILE:FUNC"``; InvalidArgument with the fix otherwise.

    The file is the user's own Python code and is imported (run) as a module.

    >>> load_gradient_function("no_such_file.py:grad")
    Traceback (most recent call last):
    ...
    symgrad.errors.InvalidArgument: --against no_such_file.py:grad: no_such_file.py does not exist; give FILE.py:FUNCTION with an existing Python file
    """
    if not isinstance(text, str) or ":" not in text:
        raise InvalidArgument(f"--against {text!r}: expected FILE.py:FUNCTION, such as my_backprop.py:gradient")
    path_text, name = text.rsplit(":", 1)
    path = Path(path_text)
    if not name.isidentifier():
        raise InvalidArgument(f"--against {text}: {name!r} is not a Python function name; give FILE.py:FUNCTION")
    if not path.is_file():
        problem = "is not a regular file" if path.exists() else "does not exist"
        raise InvalidArgument(f"--against {text}: {path_text} {problem}; give FILE.py:FUNCTION with an existing "
                              "Python file")
    module = _import_file(text, path_text, path)
    function = getattr(module, name, None)
    if function is None:
        defined = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_")
                         and getattr(v, "__module__", None) == module.__name__)
        raise InvalidArgument(f"--against {text}: {path_text} has no function {name!r}"
                              + (f"; it defines {', '.join(defined)}" if defined else ""))
    if not callable(function):
        raise InvalidArgument(f"--against {text}: {name!r} in {path_text} is the {type(function).__name__} "
                              f"{function!r:.40}, not a function")
    return function


def _import_file(text: str, path_text: str, path: Path):
    """Run the user's file as a module registered in ``sys.modules``, as an import would."""
    spec = importlib.util.spec_from_file_location(f"symgrad_user_gradient_{abs(hash(str(path)))}", path)
    if spec is None or spec.loader is None:
        raise InvalidArgument(f"--against {text}: {path_text} cannot be imported as Python; give a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would: dataclasses and pickling look it up
    try:
        with contextlib.redirect_stdout(sys.stderr):  # the user's prints must not mix into our JSON
            spec.loader.exec_module(module)  # the user's own file, run on the user's request
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # the user's file: SystemExit, GeneratorExit, its own classes too
        del sys.modules[spec.name]
        raise InvalidArgument(f"--against {text}: importing {path_text} raised {_describe(exc)}; fix the file") from exc
    return module


def _describe(exc: BaseException) -> str:
    """``Type: first line of the message``; the type alone where the message is empty or cannot be read."""
    try:
        text = str(exc)
    except BaseException:  # an exception of the user's whose __str__ raises
        text = ""
    message = text.splitlines()[0] if text.strip() else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def call_gradient_function(function: Callable, point: dict[str, float],
                           names: tuple[str, ...]) -> tuple[dict[str, float], np.dtype]:
    """Call the user's gradient function once at ``point``; its gradients by name and the coarsest dtype returned."""
    label = getattr(function, "__name__", "the gradient function")
    try:
        with contextlib.redirect_stdout(sys.stderr):
            result = function(dict(point))
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # the user's code: anything it raises is the user's error
        raise InvalidArgument(f"gradient function {label} raised {_describe(exc)} at the network's point") from exc
    try:
        return _read(result, label, names)
    except (InvalidArgument, KeyboardInterrupt):
        raise
    except BaseException as exc:  # a hostile Mapping whose methods raise, SystemExit included
        raise InvalidArgument(f"gradient function {label} returned a {type(result).__name__} that cannot be read "
                              f"({_describe(exc)}); return a plain dict") from exc


def _read(result: object, label: str, names: tuple[str, ...]) -> tuple[dict[str, float], np.dtype]:
    if not isinstance(result, Mapping):
        raise InvalidArgument(f"gradient function {label} returned a {type(result).__name__}; return a dict "
                              f"{{parameter name: gradient}} with keys {', '.join(names)}")
    missing = [n for n in names if n not in result]
    extra = [repr(k) for k in result if k not in names]
    if missing or extra:
        problem = "; ".join(p for p in (f"missing {', '.join(missing)}" if missing else "",
                                        f"unknown {', '.join(extra)}" if extra else "") if p)
        raise InvalidArgument(f"gradient function {label} returned the wrong keys ({problem}); "
                              f"return exactly {', '.join(names)}")
    values: dict[str, float] = {}
    dtype = np.dtype(np.float64)
    for n in names:
        value = result[n]
        array = _as_array(value)
        if array is None or array.dtype.kind not in "iuf":
            raise InvalidArgument(f"gradient function {label} returned {describe_value(value)} for {n!r}; return "
                                  "a real number (a float, a NumPy scalar, or a detached 0-d tensor)")
        if array.shape != ():
            raise InvalidArgument(f"gradient function {label} returned shape {array.shape} for {n!r}; "
                                  "return one number per parameter")
        if not np.isfinite(array):
            raise InvalidArgument(f"gradient function {label} returned {float(array)!r} for {n!r}; "
                                  "a gradient must be a finite number")
        if array.dtype.kind == "f" and np.finfo(array.dtype).eps > np.finfo(dtype).eps:
            dtype = array.dtype
        values[n] = float(array)
    return values, dtype


def _as_array(value: object) -> np.ndarray | None:
    """A user's number as a NumPy array keeping its dtype; None for what is not a real number."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (np.generic, np.ndarray)) or (hasattr(value, "__array__") and not isinstance(value, str)):
        try:
            return np.asarray(value)
        except (Exception, SystemExit, GeneratorExit):  # a tensor that refuses conversion (requires grad, on a GPU, ...)
            return None
    if isinstance(value, numbers.Real):  # int, float, Fraction, Decimal-like: float64
        return np.asarray(float(value))
    return None


def describe_value(value: object) -> str:
    """``repr(value)`` cut to 60 characters, for a message; the type's name where repr itself fails."""
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return shorten(text)
