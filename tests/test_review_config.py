"""`[tool.bcastsim]` / bcastsim.toml: the nearest upward, every key known, schema/paths/fail-on, --fail-on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bcastsim import InputError
from bcastsim.cli import main
from bcastsim.review import all_rules, find_config, load_config

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "sql" / "review"
MIGRATION = FIXTURES / "diff" / "payload-key-removed" / "new.sql"


def _project(tmp_path: Path, config: str) -> Path:
    """A project root (.git beside pyproject.toml) with its tables in db/ and a trigger-only migration."""
    (tmp_path / ".git").mkdir(parents=True)
    (tmp_path / "db").mkdir()
    shutil.copy(FIXTURES / "schema.sql", tmp_path / "db" / "schema.sql")
    shutil.copy(ROOT / "sql" / "realtime.sql", tmp_path / "db" / "realtime.sql")
    shutil.copy(MIGRATION, tmp_path / "db" / "0002_triggers.sql")
    (tmp_path / "pyproject.toml").write_text("[tool.bcastsim]\n" + config)
    return tmp_path


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    status = main(list(argv))
    return status, json.loads(capsys.readouterr().out)


def test_config_schema_loads_the_tables_for_a_trigger_only_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With schema in the config, checking the migration alone gives what checking it with --schema gives."""
    monkeypatch.chdir(_project(tmp_path, 'schema = ["db/schema.sql", "db/realtime.sql"]\n'))
    _, configured = _json(capsys, "check", "db/0002_triggers.sql", "--format", "json")
    _, explicit = _json(
        capsys,
        "check",
        "db/0002_triggers.sql",
        "--schema",
        "db/schema.sql",
        "--schema",
        "db/realtime.sql",
        "--format",
        "json",
    )
    _, bare = _json(capsys, "check", "db/0002_triggers.sql", "--format", "json", "--schema", "db/realtime.sql")
    assert configured["findings"] == explicit["findings"]
    assert len(bare["findings"]) > len(configured["findings"])  # type: ignore[arg-type]
    assert configured["summary"]["config"] == "pyproject.toml"  # type: ignore[index]


def test_config_paths_are_checked_when_no_path_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bcastsim check` with no PATH checks the config's paths, each schema file loaded once."""
    monkeypatch.chdir(_project(tmp_path, 'schema = ["db/schema.sql", "db/realtime.sql"]\npaths = ["db/"]\n'))
    _, document = _json(capsys, "check", "--format", "json")
    assert document["summary"]["inputs"] == [str(tmp_path / "db")]  # type: ignore[index]
    assert "unsupported-sql" not in document["summary"]["by_rule"]  # type: ignore[index]


def test_nearest_config_upward_is_read(tmp_path: Path) -> None:
    """The nearest bcastsim.toml or pyproject.toml with [tool.bcastsim] at or above an input is its config."""
    outer = tmp_path / "monorepo"
    (outer / "apps" / "shop" / "db").mkdir(parents=True)
    (outer / "pyproject.toml").write_text('[tool.bcastsim]\ntransport = "postgres"\n')
    (outer / "apps" / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")
    assert find_config(outer / "apps" / "shop" / "db") == outer / "pyproject.toml"
    (outer / "apps" / "shop" / "pyproject.toml").write_text("[tool.bcastsim]\n")
    assert find_config(outer / "apps" / "shop" / "db" / "x.sql") == outer / "apps" / "shop" / "pyproject.toml"
    (outer / "apps" / "shop" / "db" / "bcastsim.toml").write_text('fail-on = "never"\n')
    assert find_config(outer / "apps" / "shop" / "db") == outer / "apps" / "shop" / "db" / "bcastsim.toml"
    assert find_config(tmp_path) is None


def test_config_is_found_before_git_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A project without .git still has its config read, from the input's directory upward."""
    project = _project(tmp_path / "project", 'fail-on = "never"\nschema = ["db/schema.sql", "db/realtime.sql"]\n')
    shutil.rmtree(project / ".git")
    monkeypatch.chdir(tmp_path)
    status, document = _json(capsys, "check", "project/db/0002_triggers.sql", "--format", "json")
    assert status == 0
    assert document["summary"]["config"] == "project/pyproject.toml"  # type: ignore[index]
    assert document["summary"]["fail_on"] == "never"  # type: ignore[index]


def test_bcastsim_toml_keys_are_top_level_and_checked(tmp_path: Path) -> None:
    """bcastsim.toml holds the keys at its top level; a misspelt one is an error with a suggestion."""
    path = tmp_path / "bcastsim.toml"
    path.write_text('hot-tables = ["orders"]\n')
    assert load_config(path, all_rules()).hot_tables == ("orders",)
    path.write_text('hot-tables = ["orders"]\nhot-table = ["x"]\n')
    with pytest.raises(InputError) as raised:
        load_config(path, all_rules())
    assert raised.value.one_line().startswith(f"{path}:2: unknown key 'hot-table' in bcastsim.toml")
    assert "use 'hot-tables'" in raised.value.one_line()


def test_config_option_wins_and_projects_do_not_mix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--config overrides the nearest config; inputs from two configured projects in one run are bad input."""
    one = _project(tmp_path / "one", 'fail-on = "never"\n')
    two = _project(tmp_path / "two", 'fail-on = "note"\n')
    monkeypatch.chdir(tmp_path)
    argv = ["check", "one/db/0002_triggers.sql", "two/db/0002_triggers.sql", "--format", "json"]
    assert main(argv) == 2
    assert "different configurations" in capsys.readouterr().err
    status, document = _json(capsys, *argv, "--config", str(two / "pyproject.toml"))
    assert document["summary"]["fail_on"] == "note"  # type: ignore[index]
    assert status == 1
    assert one.is_dir()


def test_an_input_outside_any_project_takes_the_other_inputs_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A copy in a folder with no configuration (e.g. the old version under review) does not conflict with a project."""
    one = _project(tmp_path / "one", 'fail-on = "never"\n')
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "old.sql").write_text((one / "db" / "0002_triggers.sql").read_text())
    monkeypatch.chdir(tmp_path)
    status, document = _json(capsys, "check", "loose/old.sql", "one/db/0002_triggers.sql", "--format", "json")
    assert document["summary"]["config"] == "one/pyproject.toml"  # type: ignore[index]
    assert status == 0


def test_neutral_defaults_say_what_to_set() -> None:
    """With no table named in the config, each table rule says once, as a note, which key to set."""
    from bcastsim.review import check

    report = check([ROOT / "sql" / "broadcast_triggers.sql"], schema=[ROOT / "sql" / "schema.sql"])
    hot = [f for f in report.findings if f.rule == "hot-table-notify"]
    restricted = [f for f in report.findings if f.rule == "restricted-on-public-topic" and f.severity.value == "note"]
    assert [(f.severity.value, "hot-tables = " in (f.explanation or "")) for f in hot] == [("note", True)]
    assert [("restricted-tables = " in (f.explanation or "")) for f in restricted] == [True]
    configured = check(
        [ROOT / "sql" / "broadcast_triggers.sql"],
        schema=[ROOT / "sql" / "schema.sql"],
        config=load_config(ROOT / "pyproject.toml", all_rules()),
    )
    assert {f.severity.value for f in configured.findings if f.rule == "hot-table-notify"} == {"warning"}


@pytest.mark.parametrize(
    ("body", "line", "fix"),
    [
        ('transport = "postgres"\nshema = ["db/schema.sql"]\n', 3, "use 'schema'"),
        ('sensitive-column = ["*.email"]\n', 2, "use 'sensitive-columns'"),
        ("failon = 'never'\n", 2, "use 'fail-on'"),
        ("zzz = 1\n", 2, "known keys: schema, paths"),
    ],
)
def test_unknown_key_is_one_line_with_a_suggestion(tmp_path: Path, body: str, line: int, fix: str) -> None:
    """A misspelt key names the file and line and suggests the nearest known key."""
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.bcastsim]\n" + body)
    with pytest.raises(InputError) as raised:
        load_config(path, all_rules())
    message = raised.value.one_line()
    assert message.startswith(f"{path}:{line}: unknown key")
    assert fix in message


@pytest.mark.parametrize(("fail_on", "status"), [("error", 1), ("warning", 1), ("note", 1), ("never", 0)])
def test_fail_on_sets_the_threshold(capsys: pytest.CaptureFixture[str], fail_on: str, status: int) -> None:
    """--fail-on picks the lowest severity that fails; `never` always exits 0 and says so in the summary."""
    assert main(["check", str(ROOT / "sql"), "--fail-on", fail_on, "--format", "json"]) == status
    assert json.loads(capsys.readouterr().out)["summary"]["fail_on"] == fail_on


def test_fail_on_warning_fails_a_report_with_only_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A report without errors passes by default and fails with --fail-on warning when it holds a warning."""
    variant = str(ROOT / "sql" / "variants" / "recommended_triggers.sql")
    schema = ["--schema", str(ROOT / "sql" / "schema.sql"), "--schema", str(ROOT / "sql" / "realtime.sql")]
    migration = tmp_path / "m.sql"
    migration.write_text(
        (ROOT / "sql" / "variants" / "recommended_triggers.sql").read_text()
        + "\nCREATE TRIGGER extra AFTER INSERT ON bids FOR EACH STATEMENT EXECUTE FUNCTION broadcast_bid_realtime();\n"
    )
    assert main(["check", variant, *schema]) == 0
    capsys.readouterr()
    _, document = _json(capsys, "check", str(migration), *schema, "--format", "json")
    assert document["summary"]["errors"] == 0  # type: ignore[index]
    assert document["summary"]["warnings"] > 0  # type: ignore[index]
    assert main(["check", str(migration), *schema, "--fail-on", "warning"]) == 1


# -- fail-on from the reviewed repository cannot let a privilege or containment error pass ------------------

PRIVILEGED = FIXTURES / "rules" / "copy-program.unsafe.sql"


def _hostile_project(tmp_path: Path, config: str) -> Path:
    """A project whose own configuration says ``config`` and whose migration runs COPY … PROGRAM."""
    project = _project(tmp_path, config)
    shutil.copy(PRIVILEGED, project / "db" / "0003_export.sql")
    return project


@pytest.mark.parametrize("fail_on", ["never", "note", "warning"])
def test_config_fail_on_cannot_pass_a_privilege_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fail_on: str
) -> None:
    """fail-on = never in the reviewed repository's file still exits 1 on COPY … PROGRAM, and the summary says why."""
    project = _hostile_project(tmp_path, f'fail-on = "{fail_on}"\n')
    monkeypatch.chdir(project)
    status, document = _json(capsys, "check", "db/0003_export.sql", "--format", "json")
    summary = document["summary"]
    assert status == 1
    assert summary["exit_status"] == 1  # type: ignore[index]
    assert summary["fail_on"] == fail_on  # type: ignore[index]
    assert summary["fail_on_from_config"] is True  # type: ignore[index]
    # never: every copy-program error is held; note/warning already fail on them by themselves.
    assert summary["held"] == (summary["by_rule"]["copy-program"] if fail_on == "never" else 0)  # type: ignore[index]


def test_config_fail_on_never_still_passes_other_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only privilege and containment findings are held: the configuration's never passes a removed payload key."""
    project = _project(tmp_path, 'fail-on = "never"\n')
    shutil.copy(ROOT / "sql" / "broadcast_triggers.sql", project / "db" / "seed.sql")
    monkeypatch.chdir(project)
    schema = ["--schema", str(ROOT / "sql" / "schema.sql"), "--schema", str(ROOT / "sql" / "realtime.sql")]
    status, document = _json(capsys, "check", "db/seed.sql", *schema, "--format", "json")
    assert document["summary"]["errors"] > 0  # type: ignore[index]
    assert (status, document["summary"]["held"]) == (0, 0)  # type: ignore[index]


def test_command_line_fail_on_never_is_the_operators_choice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--fail-on never given by whoever runs the command passes the same privilege error, over the file's error."""
    project = _hostile_project(tmp_path, 'fail-on = "error"\n')
    monkeypatch.chdir(project)
    status, document = _json(capsys, "check", "db/0003_export.sql", "--fail-on", "never", "--format", "json")
    summary = document["summary"]
    assert summary["by_rule"]["copy-program"] > 0  # type: ignore[index]
    assert (status, summary["exit_status"], summary["held"], summary["fail_on_from_config"]) == (0, 0, 0, False)  # type: ignore[index]


@pytest.mark.parametrize("fmt", ["text", "github", "markdown", "sarif"])
def test_every_format_says_why_the_run_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    """Each format states that fail-on cannot be lowered by the reviewed repository's configuration."""
    project = _hostile_project(tmp_path, 'fail-on = "never"\n')
    monkeypatch.chdir(project)
    assert main(["check", "db/0003_export.sql", "--format", fmt]) == 1
    out = capsys.readouterr().out
    reason = "cannot be lowered for privilege and containment findings by the reviewed repository's configuration"
    if fmt == "sarif":
        run = json.loads(out)["runs"][0]
        assert (run["properties"]["failOn"], run["properties"]["exitStatus"]) == ("never", 1)
        assert all(reason in line for line in run["properties"]["held"])
    else:
        assert reason in out


def test_review_with_config_fail_on_never_fails_on_an_introduced_privilege_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`review` of a change that adds COPY … PROGRAM and fail-on = never beside it exits 1."""
    project = _project(tmp_path, 'fail-on = "never"\n')
    monkeypatch.chdir(project)
    old = project / "db" / "0002_triggers.sql"
    new = project / "db" / "0003_export.sql"
    new.write_text(old.read_text() + "\nCOPY (SELECT 1) TO PROGRAM 'id';\n")
    status, document = _json(capsys, "review", str(old), str(new), "--format", "json")
    assert document["summary"]["introduced"] >= 1  # type: ignore[index]
    assert (status, document["summary"]["held"]) == (1, 1)  # type: ignore[index]
