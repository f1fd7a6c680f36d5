"""Contract diff between two versions: fixture pairs for every kind of difference, git revisions, rule changes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bcastsim import InputError, Severity
from bcastsim.review import DIFF_RULES, review

ROOT = Path(__file__).resolve().parents[1]
DIFF_FIXTURES = ROOT / "tests" / "fixtures" / "sql" / "review" / "diff"
FIXTURE_SCHEMA = [ROOT / "sql" / "realtime.sql", ROOT / "tests" / "fixtures" / "sql" / "review" / "schema.sql"]
PAIRS = sorted(path.name for path in DIFF_FIXTURES.iterdir() if path.is_dir())


def _expectations(pair: str) -> tuple[set[str], int]:
    text = (DIFF_FIXTURES / pair / "new.sql").read_text()
    status = re.search(r"-- expect-exit: (\d)", text)
    assert status is not None
    return set(re.findall(r"-- expect: (\S+)", text)), int(status.group(1))


def test_every_diff_kind_has_a_fixture_pair() -> None:
    """Each kind of contract difference is shown by at least one old/new pair."""
    covered = set().union(*(_expectations(pair)[0] for pair in PAIRS))
    assert set(DIFF_RULES) <= covered


@pytest.mark.parametrize("pair", PAIRS)
def test_fixture_pair_differences(pair: str) -> None:
    """Reviewing a pair reports exactly the expected kinds of change, and the expected exit status."""
    expected, status = _expectations(pair)
    report = review(str(DIFF_FIXTURES / pair / "old.sql"), str(DIFF_FIXTURES / pair / "new.sql"), schema=FIXTURE_SCHEMA)
    assert {entry.finding.rule for entry in report.entries if entry.state == "changed"} == expected
    assert report.exit_status == status


def test_severity_of_breaking_changes() -> None:
    """Removals, renames, retypes and wider audiences are errors; additions are notes."""
    assert DIFF_RULES["payload-key-removed"].severity is Severity.ERROR
    assert DIFF_RULES["payload-key-renamed"].severity is Severity.ERROR
    assert DIFF_RULES["payload-key-retyped"].severity is Severity.ERROR
    assert DIFF_RULES["audience-widened"].severity is Severity.ERROR
    assert DIFF_RULES["channel-renamed"].severity is Severity.ERROR
    assert DIFF_RULES["payload-key-added"].severity is Severity.NOTE
    assert DIFF_RULES["channel-added"].severity is Severity.NOTE


def test_rule_changes_introduced_and_fixed() -> None:
    """A review says which rule findings the new version introduces and which it fixes."""
    pair = DIFF_FIXTURES / "introduces-and-fixes"
    report = review(str(pair / "old.sql"), str(pair / "new.sql"), schema=FIXTURE_SCHEMA)
    introduced = {e.finding.rule for e in report.entries if e.state == "introduced"}
    fixed = [e.finding for e in report.entries if e.state == "fixed"]
    assert "sensitive-on-public-topic" in introduced
    assert {f.rule for f in fixed} == {"timestamp-semantics"}
    assert all(f.severity is Severity.NOTE and f.message.startswith("fixed: ") for f in fixed)
    assert all(f.path is not None and f.path.endswith("old.sql") for f in fixed)


def test_unchanged_pair_reports_nothing() -> None:
    """Identical versions have no change, nothing introduced, nothing fixed."""
    pair = DIFF_FIXTURES / "unchanged"
    report = review(str(pair / "old.sql"), str(pair / "new.sql"), schema=FIXTURE_SCHEMA)
    assert report.entries == ()
    assert report.exit_status == 0


def test_seed_to_recommended_variant() -> None:
    """Moving from the seed to the variant fixes every seed error and introduces no error."""
    schema = [ROOT / "sql" / "schema.sql", ROOT / "sql" / "realtime.sql"]
    report = review(
        str(ROOT / "sql" / "broadcast_triggers.sql"),
        str(ROOT / "sql" / "variants" / "recommended_triggers.sql"),
        schema=schema,
    )
    introduced = [e.finding for e in report.entries if e.state == "introduced"]
    assert [f for f in introduced if f.severity is Severity.ERROR] == []
    fixed_rules = {e.finding.rule for e in report.entries if e.state == "fixed"}
    assert {"pg-notify-not-delivered", "sensitive-on-public-topic", "restricted-on-public-topic"} <= fixed_rules
    changed = {e.finding.rule for e in report.entries if e.state == "changed"}
    assert {"transport-changed", "audience-narrowed", "payload-key-removed", "trigger-changed"} <= changed


def test_directories_compare_like_files(tmp_path: Path) -> None:
    """Two directories are reviewed file set against file set, schema first."""
    old, new = tmp_path / "old", tmp_path / "new"
    for directory, source in ((old, "old.sql"), (new, "new.sql")):
        directory.mkdir()
        shutil.copy(ROOT / "tests" / "fixtures" / "sql" / "review" / "schema.sql", directory / "schema.sql")
        shutil.copy(ROOT / "sql" / "realtime.sql", directory / "realtime.sql")
        shutil.copy(DIFF_FIXTURES / "channel-renamed" / source, directory / "triggers.sql")
    report = review(str(old), str(new))
    assert {e.finding.rule for e in report.entries if e.state == "changed"} == {"channel-renamed"}


# -- git revisions -------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    (repo / "sql").mkdir(parents=True)
    _git(repo, "init", "-q")
    shutil.copy(ROOT / "tests" / "fixtures" / "sql" / "review" / "schema.sql", repo / "sql" / "schema.sql")
    shutil.copy(ROOT / "sql" / "realtime.sql", repo / "sql" / "realtime.sql")
    shutil.copy(DIFF_FIXTURES / "payload-key-removed" / "old.sql", repo / "sql" / "triggers.sql")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "before")
    shutil.copy(DIFF_FIXTURES / "payload-key-removed" / "new.sql", repo / "sql" / "triggers.sql")
    _git(repo, "commit", "-q", "-am", "after")
    return repo


def test_git_revisions_of_a_directory(repo: Path) -> None:
    """git:REV:PATH reads a directory as it was at a revision; paths are shown as git:REV:file."""
    report = review("git:HEAD~1:sql", "git:HEAD:sql", cwd=repo)
    changed = {e.finding.rule for e in report.entries if e.state == "changed"}
    assert changed == {"payload-key-removed", "payload-size-changed"}
    paths = {e.finding.path for e in report.entries}
    assert paths == {"git:HEAD:sql/triggers.sql"}


def test_git_revision_against_working_tree(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A revision can be compared with the files on disk; working-tree paths stay as given."""
    monkeypatch.chdir(repo)
    report = review("git:HEAD~1:sql", "sql")
    assert {e.finding.path for e in report.entries} == {"sql/triggers.sql"}
    assert report.exit_status == 1


@pytest.mark.parametrize(
    "spec",
    ["git:no-such-rev:sql", "git:HEAD:missing", "git:HEAD", "git::sql"],
)
def test_bad_git_spec_is_an_input_error(repo: Path, spec: str) -> None:
    """As the new version, unknown revisions, missing paths and malformed specs are one-line input errors."""
    with pytest.raises(InputError):
        review("git:HEAD:sql", spec, cwd=repo)


def test_malformed_sql_in_revision_names_shown_path(repo: Path) -> None:
    """A syntax error in a revision names the file as git:REV:path with its line."""
    (repo / "sql" / "triggers.sql").write_text("CREATE TABLE broken (\n  id uuid PRIMARY KEY,\n  oops oops oops\n);\n")
    _git(repo, "commit", "-q", "-am", "broken")
    with pytest.raises(InputError) as raised:
        review("git:HEAD~1:sql", "git:HEAD:sql", cwd=repo)
    assert raised.value.path == "git:HEAD:sql/triggers.sql"
    assert raised.value.line == 3


def test_check_reads_a_git_revision(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`check git:REV:PATH` checks the SQL as it was at that revision and shows that spec as the path."""
    from bcastsim.review import check

    pair = DIFF_FIXTURES / "transport-changed"
    shutil.copy(pair / "old.sql", repo / "sql" / "triggers.sql")
    _git(repo, "commit", "-q", "-am", "pg_notify")
    shutil.copy(pair / "new.sql", repo / "sql" / "triggers.sql")
    monkeypatch.chdir(repo)
    committed = check(["git:HEAD:sql"])
    assert {(f.rule, f.path) for f in committed.findings if f.rule == "pg-notify-not-delivered"} == {
        ("pg-notify-not-delivered", "git:HEAD:sql/triggers.sql")
    }
    assert not any(f.rule == "pg-notify-not-delivered" for f in check(["sql"]).findings)


# -- first reviews and renames ---------------------------------------------------------------


def test_none_is_an_empty_old_version() -> None:
    """`review none: NEW` reports everything NEW sends as added and its rule findings as introduced."""
    pair = DIFF_FIXTURES / "payload-key-removed"
    report = review("none:", str(pair / "new.sql"), schema=FIXTURE_SCHEMA)
    changed = {e.finding.rule for e in report.entries if e.state == "changed"}
    assert "message-added" in changed
    assert not any(e.state == "fixed" for e in report.entries)
    assert not {"payload-key-removed", "message-removed"} & changed


def test_path_missing_at_the_base_revision_is_a_first_review(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pull request that adds the directory: git:BASE:db/ does not exist there, so the old side is empty."""
    (repo / "db").mkdir()
    shutil.copy(DIFF_FIXTURES / "payload-key-removed" / "new.sql", repo / "db" / "triggers.sql")
    monkeypatch.chdir(repo)
    first = review("git:HEAD:db/", "db/", schema=FIXTURE_SCHEMA)
    empty = review("none:", "db/", schema=FIXTURE_SCHEMA)
    assert [(e.finding.rule, e.state) for e in first.entries] == [(e.finding.rule, e.state) for e in empty.entries]
    assert first.entries


def test_renamed_file_is_followed(tmp_path: Path) -> None:
    """Moving the same triggers to a file with another name is no change at all."""
    source = DIFF_FIXTURES / "payload-key-removed" / "old.sql"
    (tmp_path / "before").mkdir()
    (tmp_path / "after").mkdir()
    shutil.copy(source, tmp_path / "before" / "triggers.sql")
    shutil.copy(source, tmp_path / "after" / "0003_item_broadcast.sql")
    report = review(str(tmp_path / "before"), str(tmp_path / "after"), schema=FIXTURE_SCHEMA)
    assert [e for e in report.entries if e.state in {"changed", "introduced", "fixed"}] == []


def test_renamed_and_edited_file_reports_only_the_edit(tmp_path: Path) -> None:
    """A file renamed and edited in the same change reports the edit, not a removal plus an addition."""
    pair = DIFF_FIXTURES / "payload-key-removed"
    (tmp_path / "before").mkdir()
    (tmp_path / "after").mkdir()
    shutil.copy(pair / "old.sql", tmp_path / "before" / "triggers.sql")
    shutil.copy(pair / "new.sql", tmp_path / "after" / "items.sql")
    report = review(str(tmp_path / "before"), str(tmp_path / "after"), schema=FIXTURE_SCHEMA)
    assert {e.finding.rule for e in report.entries if e.state == "changed"} == {
        "payload-key-removed",
        "payload-size-changed",
    }


@pytest.mark.parametrize(("pair", "lost"), [("message-narrowed-trigger", "INSERT"), ("message-narrowed-if", "UPDATE")])
def test_a_message_sent_on_fewer_writes_is_an_error(pair: str, lost: str) -> None:
    """Dropping a trigger event, or narrowing the IF around a send, is an error naming the writes that lose it."""
    report = review(str(DIFF_FIXTURES / pair / "old.sql"), str(DIFF_FIXTURES / pair / "new.sql"), schema=FIXTURE_SCHEMA)
    narrowed = [e.finding for e in report.entries if e.finding.rule == "message-narrowed"]
    assert narrowed
    assert all(f.severity is Severity.ERROR for f in narrowed)
    assert lost in narrowed[0].message
    assert not any(e.state == "fixed" and e.finding.rule == "update-any-column" for e in report.entries)


def test_update_of_columns_narrow_and_widen() -> None:
    """UPDATE OF a narrower column list loses sends (error); going back to any column only adds sends (note)."""
    from bcastsim.review._emission import emission_changes

    any_column = (("UPDATE", ()),)
    only_code = (("UPDATE", ("UPDATE OF code",)),)
    narrowed = emission_changes(any_column, only_code)
    assert [(c.operation, c.narrowed) for c in narrowed] == [("UPDATE", True)]
    widened = emission_changes(only_code, any_column)
    assert [(c.operation, c.narrowed) for c in widened] == [("UPDATE", False)]
    assert emission_changes(only_code, (("UPDATE", ("UPDATE OF code, amount",)),))[0].narrowed is False


def test_a_message_without_type_or_event_is_named_by_its_function(tmp_path: Path) -> None:
    """A pg_notify with no type key is named after its trigger function, not 'function#0'."""
    old = tmp_path / "old.sql"
    old.write_text(
        "CREATE TABLE answers (id bigint PRIMARY KEY, lobby_id bigint NOT NULL, choice integer NOT NULL);\n"
        "CREATE FUNCTION answer_submitted() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n"
        "  PERFORM pg_notify('lobby:' || NEW.lobby_id, json_build_object('id', NEW.id, 'choice', NEW.choice)::text);\n"
        "  RETURN NEW;\nEND;\n$$;\n"
        "CREATE TRIGGER answer_submitted AFTER INSERT ON answers FOR EACH ROW EXECUTE FUNCTION answer_submitted();\n"
    )
    new = tmp_path / "new.sql"
    new.write_text(old.read_text().replace(", 'choice', NEW.choice", ""))
    messages = [f.message for f in review(str(old), str(new)).findings if f.rule == "payload-key-removed"]
    assert messages == ["message 'answer_submitted': payload key 'choice' was removed"]
