"""Safe writers: a failed write leaves the old file whole, and no input is ever written over."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from symgrad.errors import InvalidArgument
from symgrad.files import write_text

ROOT = Path(__file__).resolve().parent.parent


def test_writes_a_new_file_with_the_umask_permissions(tmp_path):
    target = tmp_path / "report.md"
    write_text(target, "δ_o1 = 0.138498562\n")
    assert target.read_text(encoding="utf-8") == "δ_o1 = 0.138498562\n"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]  # no temporary file left


def test_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    target = tmp_path / "grad.py"
    target.write_text("old")
    target.chmod(0o640)
    write_text(target, "new")
    assert target.read_text() == "new" and target.stat().st_mode & 0o777 == 0o640


def test_a_write_cut_short_by_the_file_size_limit_leaves_the_old_file_whole(tmp_path):
    target = tmp_path / "report.tex"
    target.write_text("the old report\n")
    script = textwrap.dedent(f"""
        import resource, sys
        sys.path.insert(0, {str(ROOT)!r})
        from symgrad.errors import InvalidArgument
        from symgrad.files import write_text
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        try:
            write_text({str(target)!r}, "x" * 100_000)
        except InvalidArgument as exc:
            print(exc)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert f"cannot write {target}" in proc.stdout and "unchanged" in proc.stdout
    assert target.read_text() == "the old report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.tex"]


def test_refuses_to_write_over_an_input_by_name_or_through_a_link(tmp_path):
    spec = tmp_path / "net.toml"
    spec.write_text("[nodes]\n")
    link = tmp_path / "out.svg"
    link.symlink_to(spec)
    for output in (spec, tmp_path / "sub" / ".." / "net.toml", link):
        (tmp_path / "sub").mkdir(exist_ok=True)
        with pytest.raises(InvalidArgument, match="it is the input"):
            write_text(output, "<svg/>", inputs=[spec])
    assert spec.read_text() == "[nodes]\n"


def test_replaces_a_link_instead_of_writing_through_it(tmp_path):
    elsewhere = tmp_path / "notes.txt"
    elsewhere.write_text("keep me")
    link = tmp_path / "graph.svg"
    link.symlink_to(elsewhere)
    write_text(link, "<svg/>")
    assert elsewhere.read_text() == "keep me"
    assert not link.is_symlink() and link.read_text() == "<svg/>"


def test_an_unwritable_folder_is_one_clear_error(tmp_path):
    with pytest.raises(InvalidArgument, match="cannot write .*no-such-folder.*choose a writable path"):
        write_text(tmp_path / "no-such-folder" / "r.md", "x")
