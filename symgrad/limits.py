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
    "MAX_SPEC_DIGITS",
    "MAX_SPEC_BYTES",
    "MAX_SPEC_MLP_PARAMS",
    "MAX_SEED",
    "MAX_VARIANTS",
    "MAX_VARIANT_DRAWS",
    "MAX_SCALAR_FAN_IN",
    "MAX_LEARNING_RATE",
    "MAX_LOSS_HISTORY",
    "MAX_FULL_GRADCHECK",
    "MAX_STEP",
    "MAX_GRADCHECK_POINTS",
    "MAX_HESSIAN_PARAMS",
    "MAX_GRADCHECK_DIRECTIONS",
    "MAX_POINT_FILE_BYTES",
    "MAX_CHECKED_BATCH",
    "MAX_PICTURE_QUANTITIES",
    "MAX_DOCUMENT_LINE",
    "MAX_NAME_PRINT",
    "MAX_FORMULA_PRINT",
    "MAX_CLAIMS_TEXT",
    "MAX_CLAIMS",
    "MAX_CLAIM_STEPS",
    "MAX_GENERATED_DEPTH",
    "MAX_GENERATED_WIDTH",
    "MAX_GENERATED_NODES",
    "MAX_GENERATED_BATCH",
    "MAX_GENERATED_MAGNITUDE",
    "MAX_TABLE_ROWS",
    "MAX_REPR_PARAMS",
    "MAX_REPR_FACTORS",
    "MAX_CHUNK_BYTES",
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
MAX_NODES = 200_000  # names (leaves and nodes) in one network
MAX_TERMS = 100_000  # operands of one n-ary sum or product
MAX_WIDTH = 100_000  # units in one [mlp] layer
MAX_LAYER_PARAMS = 50_000_000  # weights of one dense layer (400 MB of float64)
MAX_LAYERS = 1_000  # dense layers in one [mlp] (each is a few lines of generated code)
MAX_MLP_PARAMS = 50_000_000  # weights and biases of one [mlp] in all (400 MB of float64)
MAX_SCALAR_PARAMS = 5_000  # an [mlp] with more parameters is built in matrix form only

# -- options ---------------------------------------------------------------------------
MAX_DIGITS = 10_000  # significant digits of exact evaluation
MAX_STEPS = 10**9  # training steps in one call (memory stays bounded whatever the count)

# -- spec files --------------------------------------------------------------------------
MAX_SPEC_DIGITS = 1_000  # a [digits] entry: at most the digits --digits allows
MAX_SPEC_BYTES = 64 * 1024 * 1024  # size of one spec file (a 200,000-node chain is about 5 MB)
MAX_SPEC_MLP_PARAMS = 1_000_000  # weights and biases of an [mlp] in a spec file (train then peaks near 250 MB)
MAX_SEED = 2**32 - 1  # seeds run from 0 to this
MAX_SCALAR_FAN_IN = 2_000  # an [mlp] layer with more inputs is built in matrix form only (Python's parser
#                            cannot read a weighted sum of about 2,500 terms or more)
MAX_LEARNING_RATE = 1_000_000  # a larger step size is a typo, and overflows float64 at the first update
MAX_LOSS_HISTORY = 1_000  # losses a training run keeps: evenly spaced, with the first and the last

# -- gradient checking -------------------------------------------------------------------
MAX_FULL_GRADCHECK = 100  # coordinates checked one by one; above it, a seeded sample plus random directions
MAX_STEP = 10_000_000_000  # the largest finite-difference step accepted (its powers must stay finite in float64)
MAX_GRADCHECK_POINTS = 1_024  # perturbed points evaluated in one call of the compiled code (bounds its memory)
MAX_GRADCHECK_DIRECTIONS = 1_000  # random directions in one gradcheck (each costs exact evaluations at five points)
MAX_POINT_FILE_BYTES = 256 * 1024 * 1024  # a gradcheck --at .npz file, on disk and unpacked (a 4,096 × 784 batch is 26 MB)
GRADCHECK_NETWORKS_KEPT = 8  # network shapes whose derivation, compiled code and exact side gradcheck keeps between calls
GRADCHECK_NUMBERS_KEPT = 100_000  # leaf values a network's exact side keeps as MPFR numbers between points
# -- pictures --------------------------------------------------------------------------
MAX_DOCUMENT_LINE = 300  # characters in a spec's title, author or date
MAX_NAME_PRINT = 40  # characters of a name a document prints; a longer name is abbreviated with an ellipsis
MAX_FORMULA_PRINT = 3_000  # characters of LaTeX in one local partial's formula a document prints (beyond: a note)
MAX_PICTURE_QUANTITIES = 400  # leaves and nodes in one circuit picture (beyond that it is unreadable)
# -- notebook display (Derivation._repr_latex_ / _repr_markdown_) ----------------------
MAX_REPR_PARAMS = 8  # parameters a Derivation shows in Jupyter; one line counts the rest
MAX_REPR_FACTORS = 200  # local factors (δ terms and chain factors) it shows; parameters beyond are counted
# -- claims files (symgrad check) ------------------------------------------------------
MAX_CLAIMS_TEXT = 1_000_000  # characters in one claims file
MAX_CLAIMS = 2_000  # claims in one file
MAX_CLAIM_STEPS = 100_000  # k in a claim A@k (10,000 steps of the 2-2-2 network take seconds)


# -- property testing (symgrad.strategies, symgrad.testing) ----------------------------
MAX_GENERATED_DEPTH = 10  # weight layers of a generated network
MAX_GENERATED_WIDTH = 50  # units of one generated layer, leaves of a circuit
MAX_GENERATED_NODES = 200  # nodes of a generated circuit
MAX_GENERATED_BATCH = 1_000  # samples of a generated batch
MAX_CHECKED_BATCH = 1_000  # samples assert_gradients_match evaluates exactly (1,000 rows of a small MLP: ~3 s)
MAX_GENERATED_MAGNITUDE = 1_000_000  # generated points keep every value below this (no overflow in float64)
MAX_TABLE_ROWS = 20  # rows a gradient-mismatch table shows before "... and N more"

# -- exercise sheets (symgrad.exercise) ---------------------------------------------------
MAX_VARIANTS = 1_000  # variants of one exercise (each writes half a dozen documents)
MAX_VARIANT_DRAWS = 200  # draws per variant before giving up on nice values (each costs one exact evaluation)

# -- matrix form (symgrad.matrix_code) --------------------------------------------------
MAX_CHUNK_BYTES = 65_536  # bytes of the widest (features, rows) temporary of one chunk of the NumPy matrix form:
# half glibc's default mmap threshold (128 KiB): measured, temporaries then come from reused heap, not fresh pages
CHUNK_MIN_ROWS = 256  # but at least this many rows per chunk: BLAS products keep their speed, and adding a
# chunk's weight gradients (a few passes over the parameters) stays small next to its products (6·rows flops each)

# -- fused (numba) backend ---------------------------------------------------------------
FUSED_CHUNKS = 64  # pieces the batch is cut into for prange; fixed, so sums never depend on the thread count
FUSED_CHUNK_ROWS = 512  # fewer chunks for small batches: at least this many rows each (a function of the batch only)
FUSED_LANES = 16  # rows side by side in SIMD lanes in the fused loop: LLVM vectorises 16; 32 spills a 4-8-8-8-4's sums out of L1
FUSED_MATRIX_CHUNK_SCALE = 4  # the fused matrix form's chunks are this many times the NumPy form's rows
# (matrix_code.chunk_rows): each chunk costs a dozen numba dispatches, and its fused passes keep fewer temporaries
# alive (measured: 4-8-8-8-4 at batch 10,000 took 1.15 ms in chunks of 1,024 rows, 0.89 ms in 4,096)
FUSED_PARALLEL_ROWS = 10_000  # rows × parameter points from which the fused loop runs on several threads
FUSED_SCALAR_MAX_PARAMS = 64  # a dense mlp network with more parameters gets the fused matrix form by default:
# the scalar form's one long row function costs the JIT ~50 ms of CPU per parameter on a cold cache (76: 5 s, 220: 17 s)
FUSED_JIT_MAX_COST = 2_500  # by default the fused scalar form is taken up to this cost of its row function
# (fused_module.jit_cost: syntax-tree nodes, each inlined kernel counted at every call); above it the NumPy
# scalar form, since numba's cold JIT would pass 5 s (docs/performance.md §6: 2-2-2, 2,481, took 2.6 s on 100
# rows and 4.1 s on 20,000; 3-4-2, 3,886, 3.2 s and 6.5 s)

# -- derivation (symgrad.chain, symgrad.evaluation) ----------------------------------------
#: Above this many operands a sum's or product's local partials are built directly (prefix and
#: suffix products), not by sympy.diff, which differentiates every operand for every operand.
LONG_OPERANDS = 8

# -- second order (symgrad.second_order) ---------------------------------------------------
MAX_HESSIAN_PARAMS = 400  # parameters of an exact Hessian (one forward-over-reverse pass per column; 220 take about 2 s CPU at 15 digits)
