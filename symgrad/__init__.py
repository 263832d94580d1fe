"""symgrad: exact, symbolic backpropagation.

Declare a network as named SymPy expressions, derive every partial derivative with the
chain rule on the graph, evaluate it exactly, and check it.

>>> import symgrad
>>> net = symgrad.load("mazur")
>>> grads = symgrad.evaluate_gradients(symgrad.derive(net), digits=9)
>>> symgrad.to_decimal(grads.gradients["w5"], 8)
'0.082167041'
"""

from importlib.metadata import PackageNotFoundError, version

from .chain import MAX_PATHS, Adjoint, Chain, Derivation, Factor, Path, Term, derive, total_derivative
from .compile import CompiledGradient, compile_gradient
from .errors import (
    DomainError,
    GraphError,
    InvalidArgument,
    MissingDependency,
    NotDifferentiable,
    ParseError,
    PathLimitError,
    PrecisionError,
    SpecError,
    SymgradError,
)
from .evaluate import GradientValues, Values, evaluate, evaluate_gradients, to_decimal
from .expr import parse_expression
from .functions import logsumexp, relu, sigmoid, zero_one
from .fit import FitResult, compile_network, dataset, fit
from .gradient_check import GradcheckReport, GradcheckRow, StepSweep, gradcheck, plot_sweep, sweep_steps
from .graph import Network
from .layers import ACTIVATIONS, LOSSES, MLPStructure, add_l2, add_loss, dense, maxout_neuron, mlp, neuron
from .matrix import MatrixDerivation, derive_matrix, matrix_params
from .spec import builtin_examples, load, loads
from .train import Step, Trajectory, descend, sgd, step

try:
    __version__ = version("symgrad")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "ACTIVATIONS",
    "Adjoint",
    "Chain",
    "CompiledGradient",
    "Derivation",
    "DomainError",
    "Factor",
    "FitResult",
    "GradcheckReport",
    "GradcheckRow",
    "GradientValues",
    "GraphError",
    "InvalidArgument",
    "LOSSES",
    "MAX_PATHS",
    "MLPStructure",
    "MatrixDerivation",
    "MissingDependency",
    "Network",
    "NotDifferentiable",
    "ParseError",
    "Path",
    "PathLimitError",
    "PrecisionError",
    "SpecError",
    "Step",
    "StepSweep",
    "SymgradError",
    "Term",
    "Trajectory",
    "Values",
    "add_l2",
    "add_loss",
    "builtin_examples",
    "compile_gradient",
    "compile_network",
    "dataset",
    "dense",
    "derive",
    "derive_matrix",
    "descend",
    "evaluate",
    "evaluate_gradients",
    "fit",
    "gradcheck",
    "load",
    "loads",
    "logsumexp",
    "matrix_params",
    "maxout_neuron",
    "mlp",
    "neuron",
    "parse_expression",
    "plot_sweep",
    "relu",
    "sgd",
    "sigmoid",
    "step",
    "sweep_steps",
    "to_decimal",
    "total_derivative",
    "zero_one",
]
