"""symgrad: exact, symbolic backpropagation.

Declare a network as named SymPy expressions, derive every partial derivative with the
chain rule on the graph, evaluate it exactly, and check it.

>>> import symgrad
>>> net = symgrad.load("mazur")
>>> grads = symgrad.evaluate_gradients(symgrad.derive(net), digits=9)
>>> symgrad.to_decimal(grads.gradients["w5"], 8)
'0.082167041'
"""

import warnings
from importlib.metadata import PackageNotFoundError, version

from .chain import MAX_PATHS, Adjoint, Chain, ChainPath, Derivation, Factor, Term, accumulate, derive, total_derivative
from .claims import CLAIM_VERDICTS, Claim, ClaimRow, ClaimsReport, check_claims, parse_claims
from .compile import CompiledGradient, PointGradients, compile_gradient
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
from .evaluation import GradientValues, Overrides, Values, evaluate, evaluate_gradients
from .exercise import Exercise, Variant, make_exercise
from .exercise_documents import write_exercise
from .exercise_grading import GradedSheet, grade_sheets
from .exercise_values import NiceRules
from .expr import parse_expression
from .functions import logsumexp, relu, sigmoid, zero_one
from .fitting import FitResult, compile_network, dataset, fit
from .gradcheck_report import GRADCHECK_VERDICTS, GradcheckReport, GradcheckRow, StepSweep
from .gradient_check import gradcheck
from .graph import Network
from .jax_models import from_jax
from .layers import ACTIVATIONS, LOSSES, MLPStructure, add_l2, add_loss, dense, maxout_neuron, mlp, neuron
from .model_import import ImportedModel, ParamSource
from .matrix import MatrixDerivation, derive_matrix, matrix_params
from .moodle import moodle_xml
from .precision import Rounding, format_number, to_decimal
from .render.json import render_json
from .render.latex import render_latex
from .render.markdown import render_markdown
from .render.picture import CircuitLayout, circuit_figure, draw_circuit, draw_losses, layout_circuit, loss_figure, plot_sweep
from .render.text import render_text
from .reporting import render_solution, report
from .samples import Batch
from .newton import NewtonUpdate, newton_step
from .second_order import HessianValues, HvpValues, JvpValues, gauss_newton, hessian, hvp, jvp
from .second_order_code import CompiledSecondOrder, SecondOrderPoints, compile_second_order
from .solution import (
    Solution,
    SolvedChain,
    SolvedDelta,
    SolvedFactor,
    SolvedGradient,
    SolvedLeaf,
    SolvedNode,
    SolvedTerm,
    SolvedUpdate,
    solve,
)
from .spec import builtin_examples, load, loads
from .step_sweep import sweep_hvp_steps, sweep_steps
from .torch_models import from_torch
from .train import UPDATE_RULES, Trajectory, Update, descend, layers_from_output, sgd, step

try:
    __version__ = version("symgrad")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "ACTIVATIONS",
    "Adjoint",
    "Batch",
    "CLAIM_VERDICTS",
    "Chain",
    "ChainPath",
    "CircuitLayout",
    "Claim",
    "ClaimRow",
    "ClaimsReport",
    "CompiledGradient",
    "CompiledSecondOrder",
    "Derivation",
    "DomainError",
    "Exercise",
    "Factor",
    "FitResult",
    "GRADCHECK_VERDICTS",
    "GradcheckReport",
    "GradcheckRow",
    "GradedSheet",
    "GradientValues",
    "GraphError",
    "HessianValues",
    "HvpValues",
    "ImportedModel",
    "InvalidArgument",
    "JvpValues",
    "LOSSES",
    "MAX_PATHS",
    "MLPStructure",
    "MatrixDerivation",
    "MissingDependency",
    "Network",
    "NewtonUpdate",
    "NiceRules",
    "NotDifferentiable",
    "Overrides",
    "ParamSource",
    "ParseError",
    "PathLimitError",
    "PointGradients",
    "PrecisionError",
    "Rounding",
    "SecondOrderPoints",
    "Solution",
    "SolvedChain",
    "SolvedDelta",
    "SolvedFactor",
    "SolvedGradient",
    "SolvedLeaf",
    "SolvedNode",
    "SolvedTerm",
    "SolvedUpdate",
    "SpecError",
    "StepSweep",
    "SymgradError",
    "Term",
    "Trajectory",
    "UPDATE_RULES",
    "Update",
    "Values",
    "Variant",
    "accumulate",
    "add_l2",
    "add_loss",
    "builtin_examples",
    "check_claims",
    "circuit_figure",
    "compile_gradient",
    "compile_network",
    "compile_second_order",
    "dataset",
    "dense",
    "derive",
    "derive_matrix",
    "descend",
    "draw_circuit",
    "draw_losses",
    "evaluate",
    "evaluate_gradients",
    "fit",
    "format_number",
    "from_jax",
    "from_torch",
    "gauss_newton",
    "gradcheck",
    "grade_sheets",
    "hessian",
    "hvp",
    "jvp",
    "layers_from_output",
    "layout_circuit",
    "load",
    "loads",
    "logsumexp",
    "loss_figure",
    "make_exercise",
    "matrix_params",
    "maxout_neuron",
    "mlp",
    "moodle_xml",
    "neuron",
    "newton_step",
    "parse_claims",
    "parse_expression",
    "plot_sweep",
    "relu",
    "render_json",
    "render_latex",
    "render_markdown",
    "render_solution",
    "render_text",
    "report",
    "sgd",
    "sigmoid",
    "solve",
    "step",
    "sweep_hvp_steps",
    "sweep_steps",
    "to_decimal",
    "total_derivative",
    "write_exercise",
    "zero_one",
]

#: Old public names, kept for one release: each still works and warns with its new name.
_RENAMED = {"check": "check_claims", "VERDICTS": "CLAIM_VERDICTS", "Path": "ChainPath", "Step": "Update"}


def __getattr__(name: str):
    if name in _RENAMED:
        new = _RENAMED[name]
        warnings.warn(f"symgrad.{name} is renamed symgrad.{new}; the old name goes in the next release",
                      DeprecationWarning, stacklevel=2)
        return globals()[new]
    raise AttributeError(f"module 'symgrad' has no attribute {name!r}")
