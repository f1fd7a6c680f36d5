"""SQL files are bounded before they are read (bytes, line length, statements, one function's size), in linear time."""

from __future__ import annotations

from pathlib import Path

import pytest

from _corpus import corpus_root
from bcastsim import InputError
from bcastsim.cli import main
from bcastsim.review import _rules as rules_module
from bcastsim.review import check
from bcastsim.sqlmodel import SqlLimits, load_catalog

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "sql" / "broadcast_triggers.sql"


def _function(sites: int) -> str:
    """A trigger function with ``sites`` pg_notify calls, one a line."""
    body = "\n".join(f"  PERFORM pg_notify('channel_{n}', NEW.id::text);" for n in range(sites))
    return (
        "CREATE TABLE t (id int PRIMARY KEY);\n"
        "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
        f"{body}\n  RETURN NEW;\nEND $$;\n"
        "CREATE TRIGGER t_sent AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();\n"
    )


_OVER = {
    "file-bytes": (SqlLimits(file_bytes=1000), "SELECT 1;\n" * 200, "SQL file is 2,000 bytes", None),
    "line-bytes": (SqlLimits(line_bytes=50), "SELECT 1;\nSELECT '" + "x" * 60 + "';\n", "line 2 is 70 bytes", 2),
    "statements": (SqlLimits(statements=3), "SELECT 1;\n" * 5, "holds 5 statements", 4),
    "function-bytes": (SqlLimits(function_bytes=100), _function(5), "function f is", 2),
    "do-bytes": (SqlLimits(function_bytes=20), "SELECT 1;\nDO $$ BEGIN PERFORM 1; END $$;\n", "DO block is", 2),
}


@pytest.mark.parametrize("bound", list(_OVER))
def test_each_bound_is_an_input_error_naming_file_line_and_key(tmp_path: Path, bound: str) -> None:
    """Over a bound: one InputError with the file, the line, the bound and the config key that raises it."""
    limits, text, message, line = _OVER[bound]
    key = "function-bytes" if bound == "do-bytes" else bound
    path = tmp_path / "big.sql"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_catalog(path, limits=limits)
    assert message in caught.value.message
    assert "over the bound of" in caught.value.message
    assert caught.value.path is not None
    assert str(caught.value.path).endswith("big.sql")
    assert caught.value.line == line
    assert caught.value.fix is not None
    assert f"[tool.bcastsim.sql-limits] {key}" in caught.value.fix


def test_a_multibyte_line_is_measured_in_bytes(tmp_path: Path) -> None:
    """A line holding 30 four-byte characters is 130 bytes long, not 40."""
    path = tmp_path / "emoji.sql"
    path.write_text("SELECT '" + "\N{GRINNING FACE}" * 30 + "';\n")
    with pytest.raises(InputError, match="line 1 is 130 bytes"):
        load_catalog(path, limits=SqlLimits(line_bytes=100))
    load_catalog(path, limits=SqlLimits(line_bytes=200))


def test_the_config_key_raises_a_bound(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """[tool.bcastsim.sql-limits] statements = N lets `check` read a file the default would refuse."""
    (tmp_path / "many.sql").write_text("SELECT 1;\n" * 12)
    (tmp_path / "pyproject.toml").write_text("[tool.bcastsim.sql-limits]\nstatements = 10\n")
    assert main(["check", str(tmp_path / "many.sql")]) == 2
    assert "holds 12 statements, over the bound of 10" in capsys.readouterr().err
    (tmp_path / "pyproject.toml").write_text("[tool.bcastsim.sql-limits]\nstatements = 20\n")
    assert main(["check", str(tmp_path / "many.sql")]) == 0


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("[tool.bcastsim.sql-limits]\nstatement = 5\n", "unknown key 'statement'"),
        ("[tool.bcastsim.sql-limits]\nline-bytes = 0\n", "line-bytes must be a whole number"),
        ("[tool.bcastsim.sql-limits]\nline-bytes = 1.5\n", "line-bytes must be a whole number"),
        ("[tool.bcastsim]\nsql-limits = 5\n", "sql-limits must be a table"),
    ],
)
def test_a_bad_bound_in_the_config_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str, message: str
) -> None:
    """An unknown key, a bound below 1 or not a whole number, or not a table: exit 2 with one line."""
    (tmp_path / "a.sql").write_text("SELECT 1;\n")
    (tmp_path / "pyproject.toml").write_text(table)
    assert main(["check", str(tmp_path / "a.sql")]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_the_defaults_are_far_above_real_migrations() -> None:
    """Every file of the real-world corpus is read, and is at most a tenth of each default bound."""
    root = corpus_root()
    if root is None:
        pytest.skip("the real-world corpus (../shared/realworld) is not beside the checkout")
    defaults = SqlLimits()
    for path in sorted(root.rglob("*.sql")):
        data = path.read_bytes()
        assert len(data) * 10 < defaults.file_bytes, path
        assert max(len(line) for line in data.split(b"\n")) * 10 < defaults.line_bytes, path
        assert data.count(b";") * 10 < defaults.statements, path


def test_a_25000_line_baseline_is_read(tmp_path: Path) -> None:
    """A baseline the size of a large Supabase dump (25,000 lines, 1,250 functions) is within every bound."""
    block = SEED.read_text()
    copies = []
    for n in range(25_000 // block.count("\n") + 1):
        copies.append(block.replace("CREATE OR REPLACE FUNCTION ", f"CREATE OR REPLACE FUNCTION copy{n}_"))
    path = tmp_path / "baseline.sql"
    path.write_text((ROOT / "sql" / "schema.sql").read_text() + "\n".join(copies))
    assert path.read_text().count("\n") >= 25_000
    catalog = load_catalog([ROOT / "sql" / "realtime.sql", path])
    assert len(catalog.functions) > 100


def test_the_exception_block_rule_reads_each_function_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The statements of a function are read as often for 400 notify sites as for 4: linear in the sites."""
    calls: list[int] = []
    original = rules_module.statements

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rules_module, "statements", counted)
    counts = []
    for sites in (4, 400):
        path = tmp_path / f"f{sites}.sql"
        path.write_text(_function(sites))
        calls.clear()
        check([path])
        counts.append(len(calls))
    assert counts[0] == counts[1]
