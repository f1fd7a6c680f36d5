"""Outputs are written atomically to a regular file only: never through a symlink, over a device or a directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bcastsim._errors import InputError
from bcastsim._io import read_text, write_output, write_outputs
from bcastsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
SQL = str(ROOT / "sql")


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    return err


def test_output_through_a_symlink_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """-o naming a symlink to another file leaves the link and its target untouched."""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    link = tmp_path / "report.txt"
    link.symlink_to(victim)
    assert main(["check", SQL, "-o", str(link)]) == 2
    assert "symbolic link" in _one_line_error(capsys)
    assert victim.read_text() == "keep me\n"
    assert link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt", "victim.txt"]


@pytest.mark.parametrize("device", ["/dev/null", "/dev/zero", "/dev/full"])
def test_output_over_a_device_is_refused(device: str, capsys: pytest.CaptureFixture[str]) -> None:
    """-o naming a device node is refused and the node stays the same device."""
    if not os.path.exists(device):
        pytest.skip(f"{device} does not exist here")
    before = os.stat(device)
    assert main(["check", SQL, "-o", device]) == 2
    assert "not a regular file" in _one_line_error(capsys)
    after = os.stat(device)
    assert (after.st_rdev, after.st_ino) == (before.st_rdev, before.st_ino)


@pytest.mark.parametrize("name", ["", ".", "out_dir"])
def test_output_naming_a_directory_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """-o '' , -o . and -o DIR are one-line input errors and write nothing."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out_dir").mkdir()
    assert main(["check", SQL, "-o", name]) == 2
    _one_line_error(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out_dir"]
    assert list((tmp_path / "out_dir").iterdir()) == []


def test_output_replaces_a_regular_file_atomically(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An existing regular file is replaced whole, keeps its mode, and no temporary file is left."""
    target = tmp_path / "report.json"
    target.write_text("old\n")
    target.chmod(0o640)
    assert main(["check", SQL, "--format", "json", "-o", str(target)]) == 1
    assert target.read_text().startswith("{")
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_simulate_out_writes_both_reports_or_neither(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """When report.json cannot be written, report.txt is not written either and nothing is printed."""
    out = tmp_path / "reports"
    out.mkdir()
    (out / "report.json").symlink_to(tmp_path / "elsewhere.json")
    tiny = str(ROOT / "tests" / "data" / "sim_tiny.toml")
    assert main(["simulate", tiny, "--clients", "5", "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == ["report.json"]
    assert not (tmp_path / "elsewhere.json").exists()


def test_write_outputs_checks_every_target_first(tmp_path: Path) -> None:
    """A refused second target means the first is not written."""
    with pytest.raises(InputError, match="directory"):
        write_outputs({tmp_path / "a.txt": "a", tmp_path: "b"})
    assert list(tmp_path.iterdir()) == []


def test_text_written_in_pieces_leaves_the_old_file_when_a_piece_fails(tmp_path: Path) -> None:
    """Pieces are written aside as produced: a failure midway leaves the old file whole and no temporary."""
    target = tmp_path / "report.json"
    target.write_text("old\n")

    def pieces() -> Iterator[str]:
        yield "{"
        raise RuntimeError("the report failed midway")

    with pytest.raises(RuntimeError, match="midway"):
        write_output(target, pieces())
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    write_output(target, iter(["{", "}\n"]))
    assert target.read_text() == "{}\n"


def test_write_output_refuses_a_fifo(tmp_path: Path) -> None:
    """A FIFO at the output path is refused without opening it (which would block)."""
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(InputError, match="not a regular file"):
        write_output(tmp_path / "pipe", "x")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("é".encode("utf-16"), "UTF-16"),
        (b"a = 1\n\xff\xfe oops\n", "not UTF-8"),
        (b"a\x00b", "NUL"),
    ],
)
def test_read_text_refuses_other_encodings_in_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    """UTF-16, invalid UTF-8 and NUL bytes are input errors naming the file and line."""
    path = tmp_path / "input.toml"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message) as caught:
        read_text(path)
    assert caught.value.path == str(path)
    assert caught.value.line is not None
    assert "\n" not in caught.value.one_line()


def test_read_text_refuses_files_over_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file larger than BCASTSIM_MAX_INPUT_BYTES is refused with the limit and how to raise it."""
    path = tmp_path / "big.sql"
    path.write_text("x" * 100)
    monkeypatch.setenv("BCASTSIM_MAX_INPUT_BYTES", "50")
    with pytest.raises(InputError, match="over the limit of 50") as caught:
        read_text(path)
    assert "BCASTSIM_MAX_INPUT_BYTES" in caught.value.one_line()
    monkeypatch.setenv("BCASTSIM_MAX_INPUT_BYTES", "100")
    assert read_text(path) == "x" * 100


def test_shipped_models_hold_no_path_of_the_machine_they_were_measured_on() -> None:
    """models/*.toml and the docs name no absolute path of a developer's machine (/work, /home, /root)."""
    import re

    root = Path(__file__).resolve().parents[1]
    machine = re.compile(r"(?<![\w.:/])/(work|home|root|Users)/")
    for path in [*sorted((root / "models").rglob("*.toml")), root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        assert not machine.search(path.read_text()), path.name
