"""MkDocs hook: draw the site's pictures with symgrad itself while the site builds.

Each picture is a generated file of the site (not a file in docs/), so it always shows what
this source tree draws, and `mkdocs build --strict` checks every page that links to it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # document the source tree next to mkdocs.yml, installed or not
    sys.path.insert(0, str(ROOT))

import symgrad  # noqa: E402
from mkdocs.structure.files import File  # noqa: E402
from symgrad.reporting import plot_training, train_network  # noqa: E402

PICTURES = {
    "images/two_neurons-circuit.svg": ("circuit", "two_neurons"),
    "images/mazur-circuit.svg": ("circuit", "mazur"),
    "images/sigmoid_circuit-circuit.svg": ("circuit", "sigmoid_circuit"),
    "images/perceptron-loss.svg": ("loss", "perceptron"),
}


def _draw(kind: str, example: str, path: Path) -> None:
    network = symgrad.load(example)
    if kind == "circuit":
        symgrad.draw_circuit(symgrad.solve(symgrad.derive(network), digits=4), path, title=network.description,
                             definitions=example == "sigmoid_circuit")
    else:
        plot_training(train_network(network, steps=150), path)


def on_files(files, config):
    with tempfile.TemporaryDirectory() as folder:
        for name, (kind, example) in PICTURES.items():
            path = Path(folder) / Path(name).name
            _draw(kind, example, path)
            files.append(File.generated(config, name, content=path.read_bytes()))
    return files
