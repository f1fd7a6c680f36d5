"""The package as users install it: a small core, extras for the rest, LICENSE, no package-index claims."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from bcastsim import InputError
from bcastsim._extras import require

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
CORE = {"attrs", "jsonschema", "networkx", "orjson", "pglast", "rich", "sqlglot", "z3-solver"}


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0] for requirement in requirements}


def test_core_install_is_what_the_cli_needs() -> None:
    """The core dependencies are the CLI's eight (z3 decides conditions, orjson does JSON); the rest are extras."""
    assert _names(PROJECT["dependencies"]) == CORE
    extras = PROJECT["optional-dependencies"]
    assert {"pytest", "pytest-postgresql", "psycopg", "hypothesis"} <= _names(extras["pytest"])
    assert "psycopg" in _names(extras["postgres"])
    assert {"jupytext", "nbclient", "nbconvert", "ipykernel"} <= _names(extras["notebooks"])
    assert "pre-commit" in _names(extras["test"])


def test_license_file_is_mit() -> None:
    """LICENSE exists, is the MIT text, and is the license the metadata declares."""
    assert PROJECT["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_docs_never_claim_a_package_index_release() -> None:
    """No README (the examples' included) or docs page tells anyone to `pip install bcastsim` from an index."""
    bare = re.compile(r"pip install (-U )?['\"]?bcastsim(\[[a-z,]+\])?(?!\s*@)['\"]?(\s|$|`)")
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    pages += sorted((ROOT / "examples").glob("*/README.md"))
    for page in pages:
        assert not bare.search(page.read_text()), page.name


def test_missing_extra_is_one_line_naming_it() -> None:
    """A command whose optional dependency is absent says which extra to install."""
    with pytest.raises(InputError) as raised:
        require("bcastsim_no_such_module", "postgres", "review --pg")
    message = raised.value.one_line()
    assert "review --pg needs bcastsim_no_such_module" in message
    assert "[postgres]" in message


@pytest.mark.slow
def test_wheel_ships_data_notebooks_and_license(tmp_path: Path) -> None:
    """The built wheel holds the SQL, models, notebooks and LICENSE, and requires only the core unconditionally."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("bcastsim-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata_name = next(name for name in names if name.endswith(".dist-info/METADATA"))
        metadata = archive.read(metadata_name).decode()
    assert "bcastsim/_builtin/notebooks/04_review_walkthrough.py" in names
    assert "bcastsim/_builtin/sql/broadcast_triggers.sql" in names
    assert "bcastsim/_builtin/models/profiles.toml" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    unconditional = [
        line.removeprefix("Requires-Dist: ")
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]
    assert _names(unconditional) == CORE


def test_plugin_without_its_extra_only_says_what_to_install() -> None:
    """With pytest-postgresql absent, the pytest11 plugin imports cleanly, registers no fixture and names the extra."""
    code = (
        "import sys; sys.modules['pytest_postgresql'] = None\n"
        "import bcastsim.pg.plugin as plugin\n"
        "print(plugin.__all__); print(plugin.pytest_report_header())\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert completed.stdout.splitlines()[0] == "['pytest_report_header']"
    assert "pytest_postgresql not installed" in completed.stdout
    assert "[pytest] extra" in completed.stdout
