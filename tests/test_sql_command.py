"""``bcastsim sql``: the realtime stub for your tests, and notify-site coverage of generated histories."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bcastsim import realtime_sql_file

SHOP_DB = Path(__file__).parents[1] / "examples" / "shop" / "db"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bcastsim.cli", "sql", *args], capture_output=True, text=True,
                          check=False)  # fmt: skip


def test_realtime_prints_and_writes_the_stub(tmp_path: Path) -> None:
    """Printed or written with -o, the stub is the file bcastsim.realtime_sql_file() names."""
    printed = _run("realtime")
    assert printed.returncode == 0
    assert printed.stdout == realtime_sql_file().read_text()
    target = tmp_path / "realtime.sql"
    assert _run("realtime", "-o", str(target)).returncode == 0
    assert target.read_text() == realtime_sql_file().read_text()


def test_realtime_into_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    """A -o path in a directory that does not exist exits 2 with one line and writes nothing."""
    result = _run("realtime", "-o", str(tmp_path / "nope" / "realtime.sql"))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "directory does not exist" in result.stderr
    assert not (tmp_path / "nope").exists()


def test_coverage_prints_every_site_and_the_totals() -> None:
    """Every notify site of the SQL is listed with its message count; the totals line ends the table."""
    files = [str(SHOP_DB / "schema.sql"), str(SHOP_DB / "triggers.sql")]
    result = _run("coverage", "bcastsim:realtime", *files, "--examples", "30")
    assert result.returncode == 0, result.stderr
    assert "4/4 notify sites fired" in result.stdout
    for line in ("triggers.sql:9", "triggers.sql:16", "triggers.sql:29", "triggers.sql:41"):
        assert line in result.stdout


def test_coverage_of_sql_without_the_stub_says_how_to_load_it() -> None:
    """Without the realtime stub nothing fires and the table's reasons show the 3F000 hint; exit 1."""
    result = _run("coverage", str(SHOP_DB / "schema.sql"), str(SHOP_DB / "triggers.sql"), "--examples", "10")
    assert result.returncode == 1
    assert 'schema "realtime" does not exist' in result.stdout


def test_coverage_takes_a_directory_like_its_files() -> None:
    """`sql coverage DIR` reads the directory's .sql files in load order: the same table as naming them."""
    files = [str(SHOP_DB / "schema.sql"), str(SHOP_DB / "triggers.sql")]
    by_file = _run("coverage", "bcastsim:realtime", *files, "--examples", "20")
    by_directory = _run("coverage", "bcastsim:realtime", str(SHOP_DB), "--examples", "20")
    assert by_directory.returncode == 0, by_directory.stderr
    assert by_directory.stdout == by_file.stdout


QUIZ_DB = SHOP_DB / "quiz"


def test_coverage_names_unreachable_sites_and_fails_a_partial_run() -> None:
    """The quiz's points > 1000 site is unreachable (its CHECK named); a run too short to fire the rest exits 1."""
    files = ["bcastsim:realtime", str(QUIZ_DB / "schema.sql"), str(QUIZ_DB / "triggers.sql")]
    result = _run("coverage", *files, "--examples", "2")
    assert result.returncode == 1, result.stdout
    assert "unreachable: answer_given@" in result.stdout
    assert "NEW.points > 1000 contradicts CHECK answers_points_check (points BETWEEN 0 AND 1000)" in result.stdout
    (fail,) = [line for line in result.stdout.splitlines() if line.startswith("FAIL: ")]
    assert "reachable notify sites fired, below the required 100%" in fail
    assert "not reached: " in result.stdout
    assert _run("coverage", *files, "--examples", "2", "--min-site-share", "0").returncode == 0
