"""Plain LISTEN/NOTIFY with the app's own server fanning out, against FACTS.md's NOTIFY semantics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bcastsim.sim import load_scenario, simulate

JOBS = Path(__file__).parent / "fixtures" / "sim" / "jobs.toml"


def _jobs(tmp_path: Path, extra: str, sql: str | None = None) -> Path:
    (tmp_path / "jobs.sql").write_text(sql or (JOBS.parent / "jobs.sql").read_text())
    path = tmp_path / "jobs.toml"
    path.write_text(JOBS.read_text() + extra)
    return path


def _metrics(path: Path, **options: Any) -> dict[str, Any]:
    report = simulate(load_scenario(path), architectures=["listen_notify"], compare_profiles=(), **options)
    return report.runs[0].metrics["listen_notify"]


def test_notify_of_8000_bytes_or_more_fails_the_write(tmp_path: Path) -> None:
    """FACTS: NOTIFY's payload must be shorter than 8000 bytes, else the statement that fired the trigger fails."""
    sql = (JOBS.parent / "jobs.sql").read_text().replace("'state', NEW.state", "'state', NEW.state, 'body', NEW.body")
    sql = sql.replace("  queue text NOT NULL,", "  queue text NOT NULL,\n  body text NOT NULL,")
    small = _metrics(_jobs(tmp_path, '\n[text_lengths]\n"jobs.body" = 100\n', sql))
    big = _metrics(_jobs(tmp_path, '\n[text_lengths]\n"jobs.body" = 8000\n', sql))
    assert small["limit_violations"]["business_writes_aborted_by_notify_payload"] == 0
    assert small["messages_sent"] > 0
    assert big["limit_violations"]["business_writes_aborted_by_notify_payload"] == 3000
    assert big["messages_sent"] == 0


def test_notifications_sent_while_the_server_is_down_are_never_delivered(tmp_path: Path) -> None:
    """LISTEN is not durable: what commits while the app server is down reaches no worker, later jobs do."""
    quiet = _metrics(_jobs(tmp_path, ""))
    down = _metrics(_jobs(tmp_path, "\n[[faults]]\nkind = 'restart'\nat_s = 300\nduration_s = 60\n"))
    assert quiet["messages_published"] == down["messages_published"] == 3000
    missing = quiet["messages_sent"] - down["messages_sent"]
    assert missing >= 20 * 5 * 60 * 0.8  # about a minute of jobs to 20 workers
    assert down["updates"]["lost"] > 0


def test_one_listener_queues_a_burst(tmp_path: Path) -> None:
    """One notification at a time: at 5 jobs/s and 300 ms each, notifications wait longer and longer."""
    fast = _metrics(_jobs(tmp_path, ""))
    slow = _metrics(_jobs(tmp_path, "\n[listen_notify]\napp_ms = 300\n"))
    assert fast["peak_poller_lag_ms"] < 100
    assert slow["peak_poller_lag_ms"] > 60_000
    assert slow["latency_ms"]["all"]["p99"] > fast["latency_ms"]["all"]["p99"]


def test_no_supabase_plan_limits_the_apps_own_server(tmp_path: Path) -> None:
    """On Free (200 connections), 300 workers over Realtime are partly refused; on the app's own server none."""
    path = _jobs(tmp_path, "")
    report = simulate(
        load_scenario(path),
        architectures=["listen_notify", "broadcast"],
        clients=300,
        plan="free",
        compare_profiles=(),
    )
    runs = {r.label: r for r in report.runs}
    own = runs["listen_notify"].metrics["listen_notify"]
    realtime = runs["broadcast:realtime.send"].metrics["broadcast:realtime.send"]
    assert own["limit_violations"]["connections_refused"] == 0
    assert realtime["limit_violations"]["connections_refused"] > 0
