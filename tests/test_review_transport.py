"""Transport per site: Realtime rules apply only where the project shows it targets Supabase Realtime."""

from __future__ import annotations

from pathlib import Path

from bcastsim.review import ReviewConfig, check

ROOT = Path(__file__).resolve().parents[1]
READABLE = ROOT / "tests" / "fixtures" / "sql" / "readable"


def _rules(*paths: Path, transport: str = "auto") -> set[str]:
    return {f.rule for f in check(list(paths), config=ReviewConfig(transport=transport)).findings}


def test_listen_notify_project_is_not_judged_against_realtime() -> None:
    """A job queue's pg_notify draws no 'never delivered' and no public-topic finding under auto."""
    rules = _rules(READABLE / "other_schema_types.sql")
    assert "pg-notify-not-delivered" not in rules
    assert "pg-notify-not-delivered" in _rules(READABLE / "other_schema_types.sql", transport="supabase-realtime")


def test_realtime_project_pg_notify_is_not_delivered() -> None:
    """With the realtime schema among the inputs, the seed's pg_notify sites are reported as never delivered."""
    rules = _rules(ROOT / "sql")
    assert "pg-notify-not-delivered" in rules
    assert "sensitive-on-public-topic" in rules


def test_postgrest_control_channel_is_listen_notify() -> None:
    """NOTIFY pgrst is PostgREST's control channel, even next to a Realtime schema."""
    rules = _rules(ROOT / "sql" / "realtime.sql", READABLE / "script_functions.sql")
    findings = check([ROOT / "sql" / "realtime.sql", READABLE / "script_functions.sql"], config=ReviewConfig()).findings
    assert not any(f.rule == "pg-notify-not-delivered" and f.channel == "pgrst" for f in findings)
    assert "pg-notify-not-delivered" in rules  # app_startup is not a control channel
