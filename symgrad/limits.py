"""Every size limit symgrad enforces, in one place.

Spec files and expression strings are untrusted text: each limit below bounds the time or
memory one request can take, and docs/reference/spec-format.md states each one and what
happens above it (a clear error naming the file, key or node; never a hang).
"""

from __future__ import annotations

__all__ = [
    "MAX_TEXT",
    "MAX_DEPTH",
    "MAX_LITERAL",
    "MAX_EXPONENT",
    "MAX_CONSTANT_DIGITS",
    "MAX_DECIMAL_EXPONENT",
    "MAX_MAGNITUDE_DIGITS",
    "MAX_NODES",
    "MAX_TERMS",
    "MAX_WIDTH",
    "MAX_LAYER_PARAMS",
    "MAX_LAYERS",
    "MAX_MLP_PARAMS",
    "MAX_SCALAR_PARAMS",
    "MAX_DIGITS",
    "MAX_STEPS",
    "MAX_LEARNING_RATE",
    "MAX_LOSS_HISTORY",
]

# -- expression text -------------------------------------------------------------------
MAX_TEXT = 5_000  # characters in one expression
MAX_DEPTH = 60  # nesting of the syntax tree
MAX_LITERAL = 60  # characters in one number literal
MAX_EXPONENT = 1_000  # |n| in x**n for a constant n, after folding nested powers
MAX_CONSTANT_DIGITS = 2_000  # digits of any constant, after folding

# -- numbers in specs and on the command line ------------------------------------------
MAX_DECIMAL_EXPONENT = 300  # |e| in a decimal such as 1e-300, checked before expanding it
MAX_MAGNITUDE_DIGITS = 1_000  # exact evaluation refuses values above 10**this (or below its inverse)

# -- graph size -------------------------------------------------------------------------
MAX_NODES = 200_000  # nodes in one network
MAX_TERMS = 100_000  # operands of one n-ary sum or product
MAX_WIDTH = 100_000  # units in one [mlp] layer
MAX_LAYER_PARAMS = 50_000_000  # weights of one dense layer (400 MB of float64)
MAX_LAYERS = 1_000  # dense layers in one [mlp] (each is a few lines of generated code)
MAX_MLP_PARAMS = 50_000_000  # weights and biases of one [mlp] in all (400 MB of float64)
MAX_SCALAR_PARAMS = 5_000  # an [mlp] with more parameters is built in matrix form only

# -- options ---------------------------------------------------------------------------
MAX_DIGITS = 10_000  # significant digits of exact evaluation
MAX_STEPS = 10**9  # training steps in one call (memory stays bounded whatever the count)
MAX_LEARNING_RATE = 1e6  # a larger step size is a typo, and overflows float64 at the first update
MAX_LOSS_HISTORY = 1_000  # losses a training run keeps: evenly spaced, with the first and the last

# -- fused (numba) backend ---------------------------------------------------------------
FUSED_CHUNKS = 64  # pieces the batch is cut into for prange; fixed, so sums never depend on the thread count
FUSED_PARALLEL_ROWS = 10_000  # rows × parameter points from which the fused loop runs on several threads
