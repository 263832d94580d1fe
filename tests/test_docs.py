"""Docs are code: every snippet in README.md and docs/, and every worked example, runs."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import symgrad
from symgrad.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
FENCE = re.compile(r"```(\w+)\n(.*?)```", re.S)


def _blocks(kind):
    return [pytest.param(body, id=f"{path.relative_to(ROOT)}#{k}")
            for path in DOCS
            for k, (lang, body) in enumerate(FENCE.findall(path.read_text()))
            if lang == kind]


def test_every_doc_has_snippets_found():
    assert len(list(_blocks("python"))) >= 6 and len(list(_blocks("console"))) >= 4


def _skip_without_extra(message: str) -> None:
    """A snippet that needs an optional extra (pictures) skips without it, except in CI."""
    if "which is not installed; install it with" in message and not os.environ.get("CI"):
        pytest.skip(message.strip())


@pytest.mark.parametrize("body", _blocks("python"))
def test_python_snippets_run(body):
    try:
        exec(compile(body, "<doc snippet>", "exec"), {"__name__": "__doc_snippet__"})  # our own docs
    except symgrad.MissingDependency as exc:
        _skip_without_extra(str(exc))
        raise


@pytest.mark.parametrize("body", _blocks("toml"))
def test_toml_snippets_are_valid_specs(body):
    tomllib.loads(body)
    symgrad.loads(body)


def _matches(expected: list[str], actual: list[str]) -> bool:
    """Expected lines appear in order; '...' stands for any number of lines."""
    position = 0
    for line in expected:
        if line.strip() == "...":
            continue
        try:
            position = actual.index(line, position) + 1
        except ValueError:
            return False
    return True


@pytest.mark.parametrize("body", _blocks("console"))
def test_console_snippets_run(body, capsys):
    lines = body.splitlines()
    commands = [(k, line[2:]) for k, line in enumerate(lines) if line.startswith("$ ")]
    if not commands:  # install-and-run one-liners: run the symgrad part (CI runs the install)
        for line in lines:
            for part in line.split("&&"):
                argv = shlex.split(part.strip())
                if argv and argv[0] == "symgrad":
                    status = main(argv[1:])
                    err = capsys.readouterr().err
                    if status != 0:
                        _skip_without_extra(err)
                    assert status == 0, err
        return
    for index, (k, command) in enumerate(commands):
        end = commands[index + 1][0] if index + 1 < len(commands) else len(lines)
        argv = shlex.split(command)
        assert argv[0] == "symgrad"
        status = main(argv[1:])
        captured = capsys.readouterr()
        if status != 0:
            _skip_without_extra(captured.err)
        assert status == 0, captured.err
        actual = captured.out.splitlines()
        assert _matches(lines[k + 1:end], actual), command


@pytest.mark.parametrize("script", sorted((ROOT / "worked_examples").glob("*.py")), ids=lambda p: p.name)
def test_worked_examples_run(script):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the source tree under test, installed or not
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()
