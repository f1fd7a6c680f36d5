"""The pytest plugin as a new project meets it: configuration errors, strict mode, vacuous property tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SHOP_DB = Path(__file__).parents[1] / "examples" / "shop" / "db"

_VACUOUS_TESTS = """
from hypothesis import given, settings, strategies as st
from bcastsim.db import DatabaseModel

MODEL = DatabaseModel.from_sql(["{realtime}", "{shop}/schema.sql", "{shop}/triggers.sql"])


@settings(max_examples=10, database=None, derandomize=True)
@given(key=st.text(alphabet="ab", max_size=3))
def test_deletes_of_missing_orders(key):
    MODEL.reset()
    MODEL.run_transaction([f"DELETE FROM orders WHERE id = '{{key}}'"])


@settings(max_examples=10, database=None, derandomize=True)
@given(total=st.integers(-9, -1))
def test_orders_of_nobody(total):
    MODEL.reset()
    MODEL.run_transaction([f"INSERT INTO orders (id, customer_id, total) VALUES ('o1', 'nobody', {{total}})"])
"""


def _pytest(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "CI"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        capture_output=True, text=True, env=environment, cwd=project, check=False,
    )  # fmt: skip


def _project(tmp_path: Path, ini: str, tests: str) -> Path:
    (tmp_path / "pytest.ini").write_text("[pytest]\n" + ini)
    (tmp_path / "test_own.py").write_text(tests)
    return tmp_path


def test_missing_sql_setting_fails_with_how_to_set_it(tmp_path: Path) -> None:
    """Without bcastsim_sql a test that needs the SQL fails with one line saying how to set it (no Art Battle SQL)."""
    project = _project(tmp_path, "", "def test_files(bcastsim_sql_files):\n    pass\n")
    result = _pytest(project)
    assert result.returncode == 1
    assert "no SQL configured: set bcastsim_sql under [tool.pytest.ini_options]" in result.stdout
    assert "Traceback" not in result.stdout


def test_wrong_sql_path_is_one_line_naming_it(tmp_path: Path) -> None:
    """A bcastsim_sql entry that does not exist stops the run with one line naming it, before any test runs."""
    ini = "bcastsim_sql =\n    bcastsim:realtime\n    db/shcema.sql\n"
    project = _project(tmp_path, ini, "def test_x():\n    pass\n")
    result = _pytest(project)
    assert result.returncode == 4
    lines = [line for line in result.stderr.splitlines() if "db/shcema.sql" in line]
    assert len(lines) == 1, result.stderr
    assert "does not exist" in lines[0]
    assert "Traceback" not in result.stderr


def test_realtime_token_loads_the_stub(tmp_path: Path) -> None:
    """The bcastsim:realtime token resolves to the stub shipped with the package."""
    (tmp_path / "shop.sql").write_text((SHOP_DB / "schema.sql").read_text())
    project = _project(
        tmp_path,
        "bcastsim_sql =\n    bcastsim:realtime\n    shop.sql\n",
        "import bcastsim\n\ndef test_files(bcastsim_sql_files):\n"
        "    assert bcastsim_sql_files[0] == bcastsim.realtime_sql_file()\n"
        "    assert bcastsim_sql_files[1].name == 'shop.sql'\n",
    )
    result = _pytest(project)
    assert result.returncode == 0, result.stdout


def test_strict_mode_fails_without_postgres(tmp_path: Path) -> None:
    """With --bcastsim-require-pg, or CI set, a database test fails instead of skipping when PostgreSQL is missing."""
    project = _project(tmp_path, "", "def test_server(bcastsim_server):\n    pass\n")
    missing = {"BCASTSIM_PG_BINDIR": str(tmp_path / "no-such-dir")}
    assert _pytest(project, env=missing).returncode == 0
    for args, env in ((("--bcastsim-require-pg",), missing), ((), missing | {"CI": "true"})):
        result = _pytest(project, *args, env=env)
        assert result.returncode == 1, result.stdout
        assert "PostgreSQL is required here" in result.stdout


def test_vacuous_property_tests_fail_naming_sites_and_causes(tmp_path: Path) -> None:
    """A property test that fires no notify site, or commits nothing, fails with one line saying why."""
    realtime = Path(__import__("bcastsim").realtime_sql_file())
    project = _project(tmp_path, "", _VACUOUS_TESTS.format(realtime=realtime, shop=SHOP_DB))
    result = _pytest(project)
    assert result.returncode == 1
    failed = [line for line in result.stdout.splitlines() if line.startswith("bcastsim: vacuous property test:")]
    assert len(failed) == 2, result.stdout
    deletes, nobody = failed
    assert re.search(r"(\d+) of \1 transactions committed but no notify site fired", deletes)
    assert "order_changed@" in deletes
    assert "stock_changed@" in deletes
    assert "no INSERT on inventory ran" in deletes
    assert "DELETEs on orders ran without reaching it (no row matched" in deletes
    assert re.search(r"none of \d+ transactions committed; most common error: 23514 .*orders_total_check", nobody)


def test_allow_vacuous_marker_opts_out(tmp_path: Path) -> None:
    """A test marked bcastsim_allow_vacuous passes however little it fired; --bcastsim-coverage prints its table."""
    realtime = Path(__import__("bcastsim").realtime_sql_file())
    tests = _VACUOUS_TESTS.format(realtime=realtime, shop=SHOP_DB).replace(
        "@settings", "@pytest.mark.bcastsim_allow_vacuous\n@settings"
    )
    project = _project(tmp_path, "", "import pytest\n" + tests)
    result = _pytest(project, "--bcastsim-coverage")
    assert result.returncode == 0, result.stdout
    assert result.stdout.count("bcastsim coverage: test_own.py::") == 2
    assert "0/4 notify sites fired" in result.stdout


_PARTIAL_TESTS = """
from hypothesis import given, settings, strategies as st
from bcastsim.db import DatabaseModel

MODEL = DatabaseModel.from_sql(["{realtime}", "{shop}/schema.sql", "{shop}/triggers.sql"])


@settings(max_examples=5, database=None, derandomize=True)
@given(total=st.integers(0, 9))
def test_orders_only(total):
    MODEL.reset()
    MODEL.run_transaction(["INSERT INTO customers (id, email, name) VALUES ('c1', 'a@b', 'A')",
                           f"INSERT INTO orders (id, customer_id, total) VALUES ('o1', 'c1', {{total}})"])
"""


def test_partial_property_tests_fail_below_the_min_site_share(tmp_path: Path) -> None:
    """A test firing 1 of 4 reachable sites fails by default, naming the others; a share of 0.25 lets it pass."""
    realtime = Path(__import__("bcastsim").realtime_sql_file())
    tests = _PARTIAL_TESTS.format(realtime=realtime, shop=SHOP_DB)
    result = _pytest(_project(tmp_path, "", tests))
    assert result.returncode == 1, result.stdout
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("bcastsim: partial property test")]
    assert "1 of 4 reachable notify sites fired, below the required 100%" in line
    assert "stock_changed@" in line
    assert "no INSERT on inventory ran" in line
    assert _pytest(_project(tmp_path, "bcastsim_min_site_share = 0.25\n", tests)).returncode == 0


def test_a_min_site_share_that_is_not_a_share_stops_the_run(tmp_path: Path) -> None:
    """bcastsim_min_site_share outside 0..1 is one usage line naming the setting, before any test runs."""
    result = _pytest(_project(tmp_path, "bcastsim_min_site_share = 90%\n", "def test_x():\n    pass\n"))
    assert result.returncode == 4
    assert "bcastsim_min_site_share = '90%' is not a share" in result.stderr
