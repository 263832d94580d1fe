"""Reading the notation people write in a hand calculation: ∂ and d, δ, w5⁺ and w5', pasted LaTeX, ≈.

A line of a claims file is first cut into its stages (``a = b ≈ c``); the left side is read
as a quantity (``Notation.quantity``) and each right side is rewritten into the plain ASCII
arithmetic the allow-list parser reads (``value_text``). Nothing here evaluates anything:
it only rewrites text, and a left side it cannot read raises ``ParseError`` saying what was
expected and how to write it. ``NOTATION`` is the table of what is read and how (the how-to
prints it and a test reads every row).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Mapping

from .errors import ParseError, shorten
from .graph import Network
from .limits import MAX_CLAIM_STEPS

__all__ = ["NOTATION", "Quantity", "Notation", "split_stages", "value_text"]

#: What people write, and how the checker reads it (on the 2-2-2 network ``mazur``).
NOTATION: tuple[tuple[str, str], ...] = (
    ("dE_total/dw5, ∂E_total/∂w5", "dE_total/dw5"),
    ("dE/dw5 (the output's short name)", "dE_total/dw5"),
    (r"\frac{\partial E}{\partial w_5}", "dE_total/dw5"),
    ("δ_o1, δo1, delta_o1, \\delta_{o1}", "dE_total/dnet_o1 (δ = ∂E/∂net)"),
    ("w5+, w5⁺, w5', w5(new), w_5^+", "w5@1 (after one update)"),
    ("w5@3", "w5 after 3 updates"),
    ("a = b = c, a ≈ b", "each stage judged"),
    ("−0.5, 2 × 3, 2 · 3, 4.4×10⁻⁴, 4.4e-4", "-0.5, 2*3, 2*3, 4.4e-4, 4.4e-4"),
    ("[names] then target1 = t1", "target1 read as t1 (a mapping section)"),
)

_SUPERSCRIPT = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_CHARACTERS = str.maketrans({"−": "-", "–": "-", "×": "*", "·": "*", "⋅": "*", "∙": "*", "÷": "/", "≈": "=",
                             "’": "'", "$": " "})
_LATEX = ((r"\approx", "="), (r"\partial", "∂"), (r"\delta", "δ"), (r"\times", "*"), (r"\cdot", "*"),
          (r"\left", ""), (r"\right", ""), (r"\exp", "exp"), (r"\ln", "log"), (r"\log", "log"),
          (r"\sigma", "sigmoid"), (r"\,", ""), (r"\;", ""), (r"\!", ""))
_WRAPPERS = re.compile(r"\\(?:mathrm|text|mathit|operatorname|hat)\{([^{}]*)\}")
_FRAC = re.compile(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}")
_SUB_SUP = re.compile(r"([_^])\{([^{}]*)\}")
_POWER_OF_TEN = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*\*\s*10\s*\*\*\s*\(?\s*([+-]?\d+)\s*\)?")
_EULER = re.compile(r"(?<![A-Za-z0-9_])e\s*\*\*\s*(?:\(([^()]*)\)|([-+]?[0-9.]+))")
_IMPLIED = re.compile(r"\)\s*\(")  # (0.9)(0.1311): the product written as juxtaposition
_NAME_AFTER = re.compile(r"\)\s*(?=[A-Za-z_])")  # (ŷ1 – y1)a1: a bracket times a name
_LN = re.compile(r"(?<![A-Za-z_0-9])ln\s*\(")  # ln(0.561), the natural logarithm
_NUMBER_TIMES = re.compile(r"(?<![A-Za-z_0-9.])([0-9]+\.?[0-9]*|\.[0-9]+)\s*\(")  # 0.2(1): a number times (…)
_SUPERSCRIPTS = re.compile(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+")
_DERIVATIVE = re.compile(r"(?:∂|d)(?P<of>[^/]+?)/(?:∂|d)(?P<wrt>[^/]+)\Z")
_DELTA = re.compile(r"(?:δ|delta)_?(?P<of>.+)\Z")
_STEPPED = re.compile(r"(?P<name>.+?)(?:\^?\+|⁺|\^?'|\(new\)|\^new|_new|@(?P<steps>.*))\Z")
_HOW = ("write a name (out_h1), a derivative (dE_total/dw5 or ∂E/∂w5), a δ (δ_o1), "
        "or a value after k updates (w5+, w5', w5@2)")


@dataclass(frozen=True)
class Quantity:
    """What a left side names: A, dA/dB, or A after k steps."""

    name: str
    wrt: str | None = None
    steps: int | None = None


def _latex(text: str) -> str:
    for command, plain in _LATEX:
        text = text.replace(command, plain)
    for _ in range(3):  # \mathrm{E}_{total} and nested \frac{\partial E}{\partial w_{5}}
        text = _WRAPPERS.sub(r"\1", text)
        text = _SUB_SUP.sub(lambda m: m[1] + (m[2] if m[1] == "_" else f"({m[2]})" if len(m[2]) > 1 else m[2]), text)
        text = _FRAC.sub(r"(\1)/(\2)", text)
    return text


def split_stages(body: str) -> tuple[str, list[str]]:
    """The left side and each right side of ``a = b ≈ c`` (characters and LaTeX commands normalised)."""
    parts = _latex(body.translate(_CHARACTERS)).split("=")
    return parts[0].strip(), [p.strip() for p in parts[1:]]


def value_text(text: str) -> str:
    """A right side as plain arithmetic: ``4.4×10⁻⁴`` → ``4.4e-4``, ``{`` → ``(``, ``^`` → ``**``.

    >>> value_text("4.4 × 10⁻⁴")
    '4.4e-4'
    """
    text = _latex(text.translate(_CHARACTERS)).replace("{", "(").replace("}", ")").replace("^", "**")
    text = _SUPERSCRIPTS.sub(lambda m: f"**({m[0].translate(_SUPERSCRIPT)})", text)
    text = _EULER.sub(lambda m: f"exp({m[1] or m[2]})", text)
    text = _IMPLIED.sub(")*(", text)
    text = _NUMBER_TIMES.sub(r"\1*(", text)
    text = _NAME_AFTER.sub(")*", _LN.sub("log(", text))
    text = _POWER_OF_TEN.sub(lambda m: f"{m[1]}e{m[2]}", text)
    return text.strip()


class Notation:
    """Names as the person writes them, read against ``network`` and a mapping (``aliases``)."""

    def __init__(self, network: Network, aliases: Mapping[str, str] | None = None):
        self.network = network
        self.aliases = dict(aliases or {})
        self.names = set(network.quantities)

    def spelled(self, text: str) -> str:
        """``text`` with each of the person's names from the mapping written as the spec's (ŷ1 → yhat1)."""
        for alias in sorted(self.aliases, key=len, reverse=True):
            text = re.sub(rf"(?<![\w.]){re.escape(alias)}(?!\w)", self.aliases[alias], text)
        return text

    def name(self, text: str) -> str | None:
        """The network's name for ``text`` (``w_5`` → ``w5``, ``E`` → ``E_total``), or None."""
        text = text.strip().strip("()")
        if text in self.aliases:
            return self.aliases[text]
        if text in self.names:
            return text
        squeezed = text.replace("_", "").replace("(", "").replace(")", "")
        if squeezed in self.names:
            return squeezed
        if "(" in text:
            return self.name(text.replace("(", "").replace(")", ""))
        output = self.network.output
        if output and output.startswith(text + "_") and text:
            return output
        return None

    def quantity(self, lhs: str) -> Quantity:
        """Read a left side; ``ParseError`` says what was expected and how to write it."""
        text = lhs.replace(" ", "")
        if not text:
            raise ParseError(f"the line has nothing before '='; {_HOW}")
        plain = self.name(text)
        if plain is not None:
            return Quantity(plain)
        found = _DERIVATIVE.match(text.replace("(", "").replace(")", "")) if "/" in text else None
        if found:
            of, wrt = self.name(found["of"]), self.name(found["wrt"])
            if of is not None and wrt is not None:
                return Quantity(of, wrt)
            missing = found["of"] if of is None else found["wrt"]
            raise ParseError(f"unknown name {_show(missing)} in {_show(lhs)}; the network's names are "
                             f"{self._some_names()}; use the spec's name or map yours in a [names] section")
        found = _DELTA.match(text)
        if found:
            net = self.name("net_" + found["of"]) or self._net_input(found["of"]) or self.name(found["of"])
            if net is not None:
                return Quantity(self.network.output, net)
        found = _STEPPED.match(text)
        if found and self.name(found["name"]) is not None:
            return Quantity(self.name(found["name"]), steps=self._steps(found["steps"], lhs))
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
            raise ParseError(f"unknown name {_show(text)}; the network's names are {self._some_names()}; "
                             "use the spec's name or map yours in a [names] section (target1 = t1)")
        raise ParseError(f"{_show(lhs)} is not a quantity of this network{lookalike(lhs)}; {_HOW}")

    def _net_input(self, unit: str) -> str | None:
        """The one node named for ``unit`` that feeds another node named for it (I6 feeds O6: δ6 is ∂E/∂I6)."""
        nodes = self.network.nodes
        named = [n for n in nodes if n.endswith(unit) and n != unit]
        found = [n for n in named if any(n in nodes[m].operands for m in named)]
        return found[0] if len(found) == 1 else None

    def _steps(self, text: str | None, lhs: str) -> int:
        if text is None:
            return 1
        text = text.strip()
        if not text.isdigit() or not text.isascii():
            raise ParseError(f"the step count {_show(text)} in {_show(lhs)} is not a whole number; "
                             "write A@k with k = 0, 1, 2, ...")
        steps = int(text[:8]) if len(text) <= 8 else MAX_CLAIM_STEPS + 1
        if steps > MAX_CLAIM_STEPS:
            raise ParseError(f"{text} steps is more than the limit of {MAX_CLAIM_STEPS}")
        return steps

    def _some_names(self) -> str:
        names = self.network.quantities
        return ", ".join(names[:12]) + (f", … ({len(names)} in all)" if len(names) > 12 else "")


def lookalike(text: str) -> str:
    """", which has X (U+…, its name) where an ASCII letter or sign may have been meant" for the first letter,
    digit or sign of ``text`` outside ASCII and the notation table (a Cyrillic е, a full-width ＝), else "".

    >>> lookalike("n\u0435t_h1")
    ", which has 'е' (U+0435 CYRILLIC SMALL LETTER IE) where an ASCII letter, digit or sign may have been meant"
    >>> lookalike("∂E/∂w5")
    ''
    """
    for ch in text:
        if ord(ch) > 127 and ch not in _NOTATION_CHARACTERS and (ch.isalnum() or unicodedata.category(ch)[0] in "SPZ"):
            return (f", which has {ch!r} (U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed')}) where an ASCII "
                    "letter, digit or sign may have been meant")
    return ""


#: The non-ASCII characters the notation table reads (∂, δ, ⁺, ′, ≈, ×, ·, −, superscripts, Greek η/σ/θ).
_NOTATION_CHARACTERS = set("∂δΔ⁺′’≈×·−⁰¹²³⁴⁵⁶⁷⁸⁹⁻ησθ∇")


def _show(text: str) -> str:
    return repr(shorten(text))
