"""A user's own app: their SQL and a scenario of about twenty lines, simulated in their words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bcastsim import InputError
from bcastsim.cli import main
from bcastsim.sim import app_model, load_scenario, render_text, simulate

JOBS = Path(__file__).parent / "fixtures" / "sim" / "jobs.toml"
SHOP_SQL = Path(__file__).resolve().parents[1] / "examples" / "shop" / "db"


def test_own_sql_and_scenario_run_in_their_words() -> None:
    """Topics and message types come from the user's SQL; the report speaks of queues and jobs, not artworks."""
    report = simulate(JOBS, compare_profiles=())
    assert [r.label for r in report.runs] == ["listen_notify", "broadcast:realtime.send"]
    assert report.workload == {"jobs queued": 5 * 600}
    text = render_text(report)
    assert "Job queue: 3 queues, 20 workers" in text
    assert "20 workers · 3 queue" in text
    assert "3,000 jobs queued" in text
    assert "job changed latency" in text
    for foreign in ("artwork", "bid", "4.2", "seed's"):
        assert foreign not in text.lower().replace("seed ", "")
    for run in report.runs:
        metrics = run.metrics[run.architectures[0]]
        assert metrics["messages_published"] == 3000
        # Every worker follows every queue: all but the jobs queued before the workers' joins completed arrive.
        assert 0.99 * 3000 * 20 <= metrics["messages_sent"] <= 3000 * 20
        assert metrics["updates"]["lost"] == 0
        assert metrics["delivery_check"]["ok"]


def test_sql_override_replaces_the_scenarios_sql(tmp_path: Path) -> None:
    """--sql replaces sql = [...]: the same scenario on SQL without the queue's table is refused in one line."""
    with pytest.raises(InputError) as caught:
        simulate(JOBS, sql=[SHOP_SQL / "schema.sql", SHOP_SQL / "triggers.sql"])
    assert 'writes to "jobs", which the SQL does not define' in caught.value.message
    assert caught.value.path == str(JOBS)


def test_cli_runs_the_users_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`bcastsim simulate FILE --sql PATH --format json` runs the user's files and reports in their labels."""
    status = main(["simulate", str(JOBS), "--sql", str(JOBS.parent / "jobs.sql"), "--format", "json"])
    assert status == 0
    data = json.loads(capsys.readouterr().out)
    assert data["scenario"]["title"] == "Job queue: 3 queues, 20 workers"
    assert data["scenario"]["writes"] == {"jobs queued": 3000}
    assert data["scenario"]["headline_message"] == "job_changed"
    assert data["scenario"]["claims"] is None


def test_cli_refuses_a_bad_scenario_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A topic the SQL never sends on: exit 2, one line with file, line and the pattern it meant."""
    bad = tmp_path / "jobs.toml"
    bad.write_text(JOBS.read_text().replace("jobs:{jobs.queue}", "job:{jobs.queue}"))
    (tmp_path / "jobs.sql").write_text((JOBS.parent / "jobs.sql").read_text())
    status = main(["simulate", str(bad)])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert len(err.splitlines()) == 1
    assert f"{bad}:23:" in err
    assert 'unknown topic "job:{jobs.queue}"' in err
    assert 'use "jobs:{jobs.queue}"' in err


def test_payload_sizes_come_from_the_users_column_types() -> None:
    """The job message is sized from jobs.id (bigint) and the longest jobs.state its CHECK allows."""
    app = app_model(load_scenario(JOBS))
    (message,) = app.messages
    assert message.kind == "job_changed"
    assert message.pattern == "jobs:{jobs.queue}"
    assert message.notify_bytes == len('{"id" : 48213377, "state" : "running"}')


def test_claims_table_appears_only_with_claims(tmp_path: Path) -> None:
    """A scenario's own [claims] are judged in its words; without [claims] no claims table is printed."""
    (tmp_path / "jobs.sql").write_text((JOBS.parent / "jobs.sql").read_text())
    base = JOBS.read_text().replace(
        'follow = [{ topic = "jobs:{jobs.queue}", entities = "all" }]',
        'follow = [{ topic = "jobs:{jobs.queue}", entities = "all" }]\npc_tables = ["jobs"]',
    )
    plain, claimed = tmp_path / "plain.toml", tmp_path / "claimed.toml"
    plain.write_text(base)
    claimed.write_text(base + '\n[claims]\ntitle = "Our SLO"\nlatency = "1 s → 100 ms"\nbandwidth = "halved"\n')
    options = {"architectures": ["postgres_changes", "broadcast"], "compare_profiles": ()}
    without = render_text(simulate(plain, **options))
    with_claims = render_text(simulate(claimed, **options))
    assert "holds? yes/no" not in without
    assert "Our SLO, simulated: postgres_changes → broadcast (realtime.send) (holds? yes/no)" in with_claims
    assert "Job changed latency" in with_claims
    assert "1 s → 100 ms" in with_claims
    assert "Bandwidth usage" in with_claims
    assert "Concurrent users" not in with_claims  # only the rows the scenario claims


def test_a_channel_from_an_untraced_value_is_one_topic() -> None:
    """A placeholder no column feeds (current_setting) is not refused: every write sends on the one topic."""
    report = simulate(JOBS.parent / "untraced.toml", compare_profiles=())
    metrics = report.runs[0].metrics["broadcast:realtime.send"]
    assert metrics["messages_published"] == 60
    assert metrics["messages_sent"] == 3 * 60
