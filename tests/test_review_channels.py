"""Per-channel transport: [tool.bcastsim.channels], LISTEN in the project's own code, and the stated assumption."""

from __future__ import annotations

from pathlib import Path

import pytest

from bcastsim import InputError
from bcastsim.review import ReviewConfig, all_rules, check, load_config
from bcastsim.review._listen import project_listens

ROOT = Path(__file__).resolve().parents[1]
REALTIME = ROOT / "sql" / "realtime.sql"
JOBS = """\
CREATE TABLE jobs (id bigint PRIMARY KEY, queue text NOT NULL);
CREATE FUNCTION job_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('fulfilment_jobs', NEW.id::text);
  PERFORM pg_notify('queue:' || NEW.queue, NEW.id::text);
  RETURN NEW;
END $$;
CREATE TRIGGER job_queued AFTER INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION job_queued();
"""


def _project(tmp_path: Path, pyproject: str = "", worker: str | None = None) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "jobs.sql").write_text(JOBS)
    if pyproject:
        (tmp_path / "pyproject.toml").write_text(pyproject)
    if worker is not None:
        (tmp_path / "worker.py").write_text(worker)
    return tmp_path


def _not_delivered(root: Path, config: ReviewConfig | None = None) -> list[str]:
    report = check([root / "db" / "jobs.sql"], config=config or ReviewConfig(), schema=[REALTIME])
    return sorted(e.finding.channel or "" for e in report.entries if e.finding.rule == "pg-notify-not-delivered")


def _config(root: Path) -> ReviewConfig:
    return load_config(root / "pyproject.toml", all_rules())


def test_realtime_project_without_listeners_reports_both_channels(tmp_path: Path) -> None:
    """With a realtime schema and nothing listening, both pg_notify channels are reported undelivered."""
    assert len(_not_delivered(_project(tmp_path))) == 2


def test_channels_table_names_a_listen_consumer(tmp_path: Path) -> None:
    """[tool.bcastsim.channels] "fulfilment_jobs" = "listen" takes that channel out; the other stays."""
    root = _project(tmp_path, '[tool.bcastsim.channels]\n"fulfilment_jobs" = "listen"\n')
    assert _not_delivered(root, _config(root)) == ["queue:{jobs.queue}"]


def test_worker_code_listening_infers_the_consumer(tmp_path: Path) -> None:
    """A worker that executes LISTEN fulfilment_jobs and add_listener('queue:default') covers both sites."""
    worker = 'conn.execute("LISTEN fulfilment_jobs")\nawait conn.add_listener("queue:default", on_job)\n'
    root = _project(tmp_path, worker=worker)
    assert project_listens(root) == {"fulfilment_jobs": "worker.py:1", "queue:default": "worker.py:2"}
    assert _not_delivered(root) == []
    report = check([root / "db" / "jobs.sql"], config=ReviewConfig(), schema=[REALTIME])
    notes = [e.finding.message for e in report.entries if e.finding.rule == "transport-assumed"]
    assert any("worker.py:1" in note for note in notes)


def test_seed_triggers_alone_state_the_self_hosted_assumption() -> None:
    """Without a realtime schema in the inputs the report says LISTEN/NOTIFY was assumed, and why."""
    report = check([ROOT / "sql" / "broadcast_triggers.sql"], config=ReviewConfig())
    notes = [e.finding.message for e in report.entries if e.finding.rule == "transport-assumed"]
    assert len(notes) == 1
    assert "no realtime schema in the inputs: assumed self-hosted LISTEN/NOTIFY" in notes[0]


def test_unknown_consumer_is_an_input_error(tmp_path: Path) -> None:
    """A consumer other than supabase or listen is an input error naming the line."""
    root = _project(tmp_path, '[tool.bcastsim]\nfail-on = "error"\n\n[tool.bcastsim.channels]\n"jobs" = "kafka"\n')
    with pytest.raises(InputError) as error:
        _config(root)
    assert error.value.line == 5


def test_shop_example_checks_clean_with_its_channels_table() -> None:
    """The shop's own pyproject names its worker's channel: check reports no error and says how it judged it."""
    shop = ROOT / "examples" / "shop"
    config = load_config(shop / "pyproject.toml", all_rules())
    report = check([shop / "db" / "schema.sql", shop / "db" / "triggers.sql"], config=config)
    assert [f for f in report.findings if f.severity.value in ("error", "warning")] == []
    notes = [f.message for f in report.findings if f.rule == "transport-assumed"]
    assert notes == [
        "1 pg_notify/NOTIFY site(s) on 'fulfilment_jobs' judged as delivered by LISTEN/NOTIFY (a database session): "
        "[tool.bcastsim.channels] 'fulfilment_jobs' = 'listen'"
    ]
