"""`bcastsim check` and `bcastsim review` on the command line: formats, exit status, input errors, config."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bcastsim.cli import main
from bcastsim.review import FORMATS, RULES

ROOT = Path(__file__).resolve().parents[1]
DIFF = ROOT / "tests" / "fixtures" / "sql" / "review" / "diff"
SCHEMA_ARGS = [
    "--schema",
    str(ROOT / "sql" / "realtime.sql"),
    "--schema",
    str(ROOT / "tests" / "fixtures" / "sql" / "review" / "schema.sql"),
]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("fmt", FORMATS)
def test_check_seed_every_format(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    """`check sql/` exits 1 in every format and names broadcast_triggers.sql with line numbers."""
    status, out, err = _run(capsys, "check", str(ROOT / "sql"), "--format", fmt)
    assert status == 1
    assert err == ""
    assert "broadcast_triggers.sql" in out
    if fmt in {"json", "sarif"}:
        json.loads(out)


PAIRS = sorted(path.name for path in DIFF.iterdir() if path.is_dir())


def _expected_exit(pair: str) -> int:
    match = re.search(r"-- expect-exit: (\d)", (DIFF / pair / "new.sql").read_text())
    assert match is not None
    return int(match.group(1))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("pair", PAIRS)
def test_review_pairs_every_format(capsys: pytest.CaptureFixture[str], fmt: str, pair: str) -> None:
    """`review OLD NEW` exits 1 exactly for the pairs with a breaking change, whatever the format."""
    expected = _expected_exit(pair)
    status, out, err = _run(
        capsys, "review", str(DIFF / pair / "old.sql"), str(DIFF / pair / "new.sql"), *SCHEMA_ARGS, "--format", fmt
    )
    assert status == expected
    assert err == ""
    if fmt in {"json", "sarif"}:
        document = json.loads(out)
        if fmt == "json":
            assert document["summary"]["exit_status"] == expected
    if fmt == "github" and expected == 1:
        assert "::error " in out


def test_clean_variant_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    """The recommended variant checks clean: exit status 0."""
    status, out, _ = _run(
        capsys,
        "check",
        "--schema",
        str(ROOT / "sql" / "schema.sql"),
        "--schema",
        str(ROOT / "sql" / "realtime.sql"),
        str(ROOT / "sql" / "variants" / "recommended_triggers.sql"),
    )
    assert status == 0
    assert out.rstrip().splitlines()[-1].startswith("0 errors, 0 warnings, 0 notes")


def test_malformed_sql_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Bad SQL: exit 2, a single stderr line naming file:line, nothing on stdout, no output file."""
    bad = tmp_path / "bad.sql"
    bad.write_text("CREATE TABLE t (\n  id uuid,\n  nonsense here here\n);\n")
    target = tmp_path / "report.sarif"
    status, out, err = _run(capsys, "check", str(bad), "--format", "sarif", "--output", str(target))
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert f"{bad}:3:" in err
    assert "Traceback" not in err
    assert not target.exists()


def test_output_file_written_whole(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--output writes the complete report to the file and nothing to stdout."""
    target = tmp_path / "report.json"
    status, out, _ = _run(capsys, "check", str(ROOT / "sql"), "--format", "json", "--output", str(target))
    assert status == 1
    assert out == ""
    assert json.loads(target.read_text())["summary"]["exit_status"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


@pytest.mark.parametrize(
    "argv",
    [
        ["check"],
        ["check", "no/such/dir"],
        ["check", "sql", "--disable", "no-such-rule"],
        ["check", "sql", "--output", "no/such/dir/report.txt"],
        ["check", "--client", "no-such-profile"],
        ["review", "sql/broadcast_triggers.sql", "no/such.sql"],
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    """Missing paths, unknown rules or profiles and unwritable outputs exit 2 with one line."""
    monkeypatch.chdir(ROOT)
    status, out, err = _run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert err.startswith("bcastsim: error: ")
    assert err.count("\n") == 1


def test_list_rules(capsys: pytest.CaptureFixture[str]) -> None:
    """--list-rules prints every rule id with its default severity."""
    status, out, _ = _run(capsys, "check", "--list-rules")
    assert status == 0
    for rule in RULES:
        assert rule.id in out


def test_pyproject_config_is_found(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """[tool.bcastsim] in the project root's pyproject.toml applies: here every error-level rule is disabled."""
    errors = [rule.id for rule in RULES if rule.severity.value == "error"]
    (tmp_path / "pyproject.toml").write_text(
        "[tool.bcastsim]\ndisable = [" + ", ".join(f'"{rule}"' for rule in errors) + "]\n"
    )
    (tmp_path / ".git").mkdir()
    (tmp_path / "sql").mkdir()
    for name in ("schema.sql", "realtime.sql", "broadcast_triggers.sql"):
        (tmp_path / "sql" / name).write_text((ROOT / "sql" / name).read_text())
    monkeypatch.chdir(tmp_path)
    status, out, _ = _run(capsys, "check", "sql", "--format", "json")
    document = json.loads(out)
    assert status == 0
    assert document["summary"]["errors"] == 0
    assert not set(document["summary"]["by_rule"]) & set(errors)


def test_transport_flag_overrides_config(capsys: pytest.CaptureFixture[str]) -> None:
    """--transport postgres stops pg_notify being reported as undelivered."""
    _, out, _ = _run(capsys, "check", str(ROOT / "sql"), "--transport", "postgres", "--format", "json")
    assert "pg-notify-not-delivered" not in json.loads(out)["summary"]["by_rule"]


def test_client_checks_are_merged(capsys: pytest.CaptureFixture[str]) -> None:
    """`check --client seed` runs the client property checks and reports their findings with the SQL ones."""
    status, out, _ = _run(capsys, "check", str(ROOT / "sql"), "--client", "seed", "--format", "json")
    document = json.loads(out)
    rules = set(document["summary"]["by_rule"])
    assert status == 1
    assert "pg-notify-not-delivered" in rules
    assert any(rule.startswith("client.") for rule in rules)
    assert document["summary"]["inputs"][-1] == "client:seed"


def test_first_review_from_none(capsys: pytest.CaptureFixture[str]) -> None:
    """`review none: NEW` is a first review: exit by NEW's own findings, everything NEW sends is added."""
    new = DIFF / "payload-key-removed" / "new.sql"
    status, out, err = _run(capsys, "review", "none:", str(new), *SCHEMA_ARGS, "--format", "json")
    document = json.loads(out)
    assert err == ""
    assert status == (1 if document["summary"]["errors"] else 0)
    assert document["summary"]["fixed"] == 0
    assert "message-added" in document["summary"]["by_rule"]
