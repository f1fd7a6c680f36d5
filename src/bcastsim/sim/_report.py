"""Reports in the scenario's words: the side-by-side text table, the scenario's claims with simulated figures, JSON.

Nothing here reads a clock or the environment: the same report object renders to the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bcastsim._io import json_text
from bcastsim.sim._api import RunSummary, SimulationReport

__all__ = ["render_json", "render_text", "report_to_dict"]

_LABELS = {
    "postgres_changes": "postgres_changes",
    "broadcast:pg_notify": "broadcast (pg_notify)",
    "broadcast:realtime.send": "broadcast (realtime.send)",
    "broadcast:broadcast_changes": "broadcast (broadcast_changes)",
    "listen_notify": "LISTEN/NOTIFY + app server",
}


def report_to_dict(report: SimulationReport) -> dict[str, Any]:
    """Every metric and time series of every run, plus the seed, replay command and fingerprint."""
    return {
        "seed": report.seed,
        "replay": report.replay_command,
        "scenario": {
            "name": report.scenario_name,
            "ref": report.scenario_ref,
            "title": report.title,
            "description": report.description,
            "mode": report.mode,
            "duration_s": report.duration_s,
            "audience": report.audience,
            "populations": report.populations,
            "entities": report.entities,
            "phases": list(report.phases),
            "writes": report.workload,
            "headline_message": report.headline,
            "claims": report.claims,
            "faults": list(report.faults),
        },
        "plan": {
            "name": report.plan.name,
            "connections": _finite(report.plan.connections),
            "messages_per_second": _finite(report.plan.messages_per_second),
            "channel_joins_per_second": _finite(report.plan.channel_joins_per_second),
            "channels_per_connection": _finite(report.plan.channels_per_connection),
            "payload_bytes": _finite(report.plan.payload_bytes),
            "realtime_rules": report.realtime,
        },
        "reference_plan": report.reference_plan or None,
        "profile": report.profile,
        "profile_summary": report.profile_summary,
        "models": {"payload_sizes": report.payload_source, "database_costs": report.cost_source},
        "runs": [
            {
                "label": run.label,
                "plan": run.plan,
                "architectures": list(run.architectures),
                "rollout_percentage": run.rollout_percentage,
                "rollback": run.rollback,
                "profile": run.profile or report.profile,
                "events": run.events,
                "cohorts": run.cohorts,
                "fingerprint": run.fingerprint,
                "metrics": run.metrics,
            }
            for run in report.runs
        ],
        "backtest": report.backtest,
        "assumptions": list(report.assumptions),
        "fingerprint": report.fingerprint,
    }


def _finite(value: float) -> float | None:
    return None if value == float("inf") else value


def render_json(report: SimulationReport) -> str:
    return json_text(report_to_dict(report))


# ----------------------------------------------------------------------------- number formatting
def _int(x: float) -> str:
    return f"{x:,.0f}"


def _ms(x: float | None) -> str:
    if x is None:
        return "–"
    if x >= 10_000:
        return f"{x / 1000:,.1f} s"
    return f"{x:,.0f} ms"


def _secs(ms: float) -> str:
    return f"{ms / 1000:,.1f} s"


def _mb(nbytes: float) -> str:
    if nbytes >= 1e9:
        return f"{nbytes / 1e9:,.2f} GB"
    return f"{nbytes / 1e6:,.2f} MB"


def _pct(x: float) -> str:
    return f"{x:.1%}"


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _change(before: float, after: float) -> str:
    if before == 0:
        return "n/a"
    delta = after / before - 1
    sign = "−" if delta < 0 else "+"
    return f"{sign}{abs(delta):.0%}"


def _trio(p: dict[str, float | None]) -> str:
    values = [p.get(k) for k in ("p50", "p95", "p99")]
    if any(v is None for v in values):
        return "–"
    numbers = [float(v) for v in values if v is not None]
    if max(numbers) >= 10_000:
        return " / ".join(f"{v / 1000:,.1f}" for v in numbers) + " s"
    return " / ".join(f"{v:,.0f}" for v in numbers) + " ms"


def _latency(m: dict[str, Any], kind: str) -> dict[str, float | None]:
    lat: dict[str, dict[str, float | None]] = m["latency_ms"]
    return lat.get(kind, {"p50": None, "p95": None, "p99": None})


def _share(m: dict[str, Any], key: str) -> str:
    seen = m["user_visible"]
    return f"{_pct(seen['share_of_owed'][key])}"


_FOOTNOTE = (
    "* one per client and drop (or first connection) that the service refused or could not serve, however "
    "often the client retried; the rollout's rollback trigger uses this rate."
)


def _pair_ms(p: dict[str, float | None]) -> str:
    if p.get("p50") is None or p.get("p99") is None:
        return "–"
    return f"{_ms(p['p50'])} / {_ms(p['p99'])}"


def _verdict(m: dict[str, Any]) -> str:
    """The scenario's requirements decide: "ok" only when every one holds, whatever the client profile accepts."""
    req = m.get("requirements")
    if req is None:
        return _checker(m)
    if req["ok"]:
        return "ok"
    return f"FAIL ({sum(1 for c in req['checks'] if not c['ok'])} of {len(req['checks'])} unmet)"


def _checker(m: dict[str, Any]) -> str:
    """The delivery checker's own result: clean, or the anomalies, with those the profile allows named."""
    check = m["delivery_check"]
    if not check["ok"]:
        return "anomalies"
    if check["counts"]["lost"]:
        return "lost (profile allows)"
    return "clean"


def _owed_p95(m: dict[str, Any], kind: str) -> str:
    owed = m.get("latency_of_owed_ms")
    if owed is None:
        return "–"
    p95 = owed["by_kind"].get(kind, {}).get("p95") if kind else owed["all"]["p95"]
    if p95 is None:
        return "never" if owed["arrived_share"] < 0.95 else "–"
    return _ms(p95)


def _capacity(m: dict[str, Any], what: str) -> str:
    cap = m["database"].get("capacity")
    if not cap:
        return "–"
    if what == "compute":
        return f"{cap['compute']} ({cap['cores']:g} cores)"
    if what == "load":
        return _pct(cap["peak_utilisation"])
    if what == "wait":
        return _ms(cap["peak_queue_delay_ms"])
    return _int(cap["failed_requests"])


def _never_arrived(m: dict[str, Any]) -> str:
    owed = m["user_visible"]["owed"]
    return _pct(m["updates"]["lost"] / owed) if owed else "–"


Row = tuple[str, Callable[[dict[str, Any]], str]]
# The row of the scenario's headline message type; its label is filled in with the type's name.
_HEADLINE = "{headline} latency p50/p95/p99"

_ROWS: tuple[tuple[str, tuple[Row, ...]], ...] = (
    (
        "Database, realtime-attributable",
        (
            ("DB time", lambda m: _secs(m["database"]["realtime_time_ms"])),
            ("queries", lambda m: _int(m["database"]["realtime_queries"])),
            ("  list_changes() polls", lambda m: _int(m["database"]["queries"]["list_changes_polls"])),
            ("  authorization reads", lambda m: _int(m["database"]["queries"]["authorization_reads"])),
            (
                "  trigger lookups + notify/send",
                lambda m: _int(
                    m["database"]["queries"]["trigger_lookups"]
                    + m["database"]["queries"]["pg_notify_calls"]
                    + m["database"]["queries"]["realtime_send_calls"]
                ),
            ),
            ("  client reaction queries", lambda m: _int(m["database"]["queries"]["client_reaction_queries"])),
            ("  refetches after a gap", lambda m: _int(m["database"]["queries"]["refetch_queries"])),
            ("total DB time (with writes, renders)", lambda m: _secs(m["database"]["total_time_ms"])),
            ("database compute", lambda m: _capacity(m, "compute")),
            ("  peak load on its cores (1 s)", lambda m: _capacity(m, "load")),
            ("  longest wait for a core", lambda m: _capacity(m, "wait")),
            ("  requests refused (pooler full)", lambda m: _capacity(m, "failed")),
        ),
    ),
    (
        "Delivery",
        (
            ("messages published", lambda m: _int(m["messages_published"])),
            ("messages sent (fan-out)", lambda m: _int(m["messages_sent"])),
            ("bytes sent", lambda m: _mb(m["bytes_sent"])),
            ("deliveries per client", lambda m: f"{m['deliveries_per_client']:,.1f}"),
            (_HEADLINE, lambda m: _trio(_latency(m, m["headline_message"]))),
            ("  p95 over the owed (lost = late)", lambda m: _owed_p95(m, m["headline_message"])),
            ("all updates latency p50/p95/p99", lambda m: _trio(m["latency_ms"]["all"])),
            ("  owed, never arrived", _never_arrived),
            (
                "updates lost per client (mean / max)",
                lambda m: f"{m['updates']['lost_per_client_mean']:,.1f} / {m['updates']['lost_per_client_max']:,}",
            ),
            ("  not recovered by a refetch", lambda m: f"{m['updates']['unrecovered_per_client_mean']:,.1f}"),
        ),
    ),
    (
        "What users see (share of the updates owed)",
        (
            ("updates owed (whole event)", lambda m: _int(m["user_visible"]["owed"])),
            ("delivered to the socket", lambda m: _share(m, "delivered_to_socket")),
            ("applied by the page", lambda m: _share(m, "applied_by_page")),
            ("  shown within 1 s", lambda m: _share(m, "shown_within_1s")),
            ("  shown within 5 s", lambda m: _share(m, "shown_within_5s")),
            ("recovered by a refetch", lambda m: _share(m, "recovered_by_refetch")),
        ),
    ),
    (
        "Poller (postgres_changes)",
        (
            ("peak commit-to-poll lag", lambda m: _ms(m["peak_poller_lag_ms"])),
            ("peak retained WAL", lambda m: _mb(m["peak_retained_wal_bytes"])),
        ),
    ),
    (
        "Limit violations",
        (
            ("connections refused", lambda m: _int(m["limit_violations"]["connections_refused"])),
            (
                "channels closed (message rate)",
                lambda m: _int(m["limit_violations"]["channels_closed_over_message_rate"]),
            ),
            (
                "broadcasts dropped (rate)",
                lambda m: _int(m["limit_violations"]["broadcasts_dropped_over_message_rate"]),
            ),
            (
                "pg changes dropped (poller, rate)",
                lambda m: _int(m["limit_violations"]["changes_dropped_at_poller"]),
            ),
            ("channel joins rejected (join rate)", lambda m: _int(m["limit_violations"]["channel_joins_rejected"])),
            ("longest wait for a join", lambda m: _ms(m["limit_violations"]["max_join_queue_ms"])),
            (
                "channels refused (per connection)",
                lambda m: _int(m["limit_violations"]["channels_refused_over_per_connection_limit"]),
            ),
            (
                "messages over payload limit",
                lambda m: _int(m["limit_violations"]["messages_dropped_over_payload_limit"]),
            ),
            (
                "writes aborted (NOTIFY ≥ 8000 B)",
                lambda m: _int(m["limit_violations"]["business_writes_aborted_by_notify_payload"]),
            ),
        ),
    ),
    (
        "Connections",
        (
            (
                "clients affected (dropped or refused)",
                lambda m: f"{m['connections']['clients_affected']:,} of {m['clients']:,}",
            ),
            ("  never connected", lambda m: f"{m['connections'].get('never_connected', 0):,} of {m['clients']:,}"),
            ("time to reconnect p50 / p99", lambda m: _pair_ms(m["connections"]["reconnect_ms"])),
            ("time to resubscribe every channel", lambda m: _pair_ms(m["connections"]["resubscribe_ms"])),
            ("  reconnected, some channel never", lambda m: _int(m["connections"]["never_resubscribed"])),
            (
                "failed (re)connections* (rate)",
                lambda m: f"{m['connections']['failed_episodes']:,} ({_pct(m['connections']['episode_failure_rate'])})",
            ),
            ("attempts (every retry)", lambda m: _int(m["connections"]["attempts"])),
            (
                "  failed, as browsers see them",
                lambda m: f"{m['connections']['failures']:,} ({_pct(m['connections']['failure_rate'])})",
            ),
            (
                "  failed, as the service sees them",
                lambda m: (
                    f"{m['connections']['service_failures']:,} ({_pct(m['connections']['service_failure_rate'])})"
                ),
            ),
            ("gave up", lambda m: _int(m["connections"]["gave_up"])),
        ),
    ),
    (
        "Delivery check (bcastsim.check.history)",
        (
            ("verdict (requirements)", _verdict),
            ("checker", _checker),
            ("lost (= updates lost above)", lambda m: _int(m["delivery_check"]["counts"]["lost"])),
            ("  while connected and subscribed", lambda m: _int(m["updates"]["lost_while_subscribed"])),
            ("leaked / unauthorized", lambda m: _pair(m, "leaked", "unauthorized")),
            ("duplicated / reordered", lambda m: _pair(m, "duplicated", "reordered")),
        ),
    ),
)

_REFERENCE_ROWS = (
    "DB time",
    "bytes sent",
    _HEADLINE,
    "  p95 over the owed (lost = late)",
    "all updates latency p50/p95/p99",
    "  owed, never arrived",
    "updates lost per client (mean / max)",
    "applied by the page",
    "  shown within 1 s",
    "peak commit-to-poll lag",
    "peak retained WAL",
    "channels closed (message rate)",
)


def _pair(m: dict[str, Any], a: str, b: str) -> str:
    counts = m["delivery_check"]["counts"]
    return f"{counts[a]:,} / {counts[b]:,}"


def _table(title: str, runs: list[RunSummary], headline: str, only: tuple[str, ...] | None = None) -> list[str]:
    names = [r.architectures[0] for r in runs]
    metrics = [{**r.metrics[n], "headline_message": headline} for r, n in zip(runs, names, strict=True)]
    label_width = 40
    width = max(26, *(len(_LABELS.get(n, n)) + 2 for n in names))
    lines = [title.ljust(label_width) + "".join(_LABELS.get(n, n).rjust(width) for n in names)]
    lines.append("─" * (label_width + width * len(names)))
    for section, rows in _ROWS:
        chosen = [row for row in rows if only is None or row[0] in only]
        if not chosen:
            continue
        if only is None:
            lines.append(section)
        for label, get in chosen:
            shown = label.format(headline=headline.replace("_", " ") or "update")
            lines.append(("  " + shown).ljust(label_width) + "".join(get(m).rjust(width) for m in metrics))
    return lines


def _requirements(report: SimulationReport, runs: list[RunSummary]) -> list[str]:
    """Each run's verdict with the requirement it failed, its numbers and why; the scenario's [requirements]."""
    judged: list[tuple[str, dict[str, Any]]] = [
        (r.label, r.metrics[r.architectures[0]]["requirements"])
        for r in runs
        if r.metrics[r.architectures[0]].get("requirements") is not None
    ]
    if not judged:
        return []
    first = judged[0][1]
    asks = "; ".join(f"{c['requirement']} {c['required']}" for c in first["checks"])
    lines = [f"Requirements ([requirements] of the scenario, else the defaults in docs/simulate.md): {asks}"]
    for label, req in judged:
        if req["ok"]:
            lines.append(f"  {_LABELS.get(label, label)}: ok")
            continue
        for c in req["checks"]:
            if not c["ok"]:
                why = f" — {c['why']}" if c["why"] else ""
                lines.append(
                    f"  {_LABELS.get(label, label)}: FAIL {c['requirement']} {c['actual']} (needs {c['required']}){why}"
                )
    lines.append("")
    return lines


def _claims(report: SimulationReport, main: list[RunSummary], reference: list[RunSummary]) -> list[str]:
    """The scenario's ``[claims]`` (old architecture → new), each beside the simulated figures; none, no table."""
    claims = report.claims or {}
    lines: list[str] = []
    if not claims:
        return _pg_notify_note(main)
    latency_of = claims.get("latency_message") or report.headline
    report_delivered_share = report.delivered_share
    by = {r.architectures[0]: r.metrics[r.architectures[0]] for r in main}
    ref = {r.architectures[0]: r.metrics[r.architectures[0]] for r in reference}
    old = "postgres_changes"
    new = "broadcast:realtime.send" if "broadcast:realtime.send" in by else "broadcast:pg_notify"
    if old not in by or new not in by:
        return _pg_notify_note(main)
    columns = [(f"plan {report.plan.name}", by)]
    if old in ref and new in ref:
        columns.append((report.reference_plan, ref))

    def cell(m: dict[str, dict[str, Any]], metric: str) -> str:
        a, b = m[old], m[new]
        if metric == "users":
            cell = (
                f"{a['clients']:,} clients, lost/client "
                f"{a['updates']['lost_per_client_mean']:,.0f} → {b['updates']['lost_per_client_mean']:,.0f}"
            )
            symptoms = (report.backtest or {}).get("symptoms", ())
            fails = next((r for r in symptoms if r["symptom"] == "fails_at_users"), None)
            if fails is not None and fails["simulated"] is not None:
                cell = f"fails at {fails['simulated']:,}; {cell}"
            return cell
        if metric == "latency":
            la, lb = _latency(a, latency_of), _latency(b, latency_of)
            p50, p99 = lb["p50"], lb["p99"]
            if b["user_visible"]["applied_by_page"] == 0:
                return f"socket p50 {_ms(la['p50']).replace(' ms', '')}→{_ms(p50)}; the page shows none (no)"
            if p99 is not None and p99 < 100:
                verdict = "yes"
            elif p50 is not None and p50 < 100:
                verdict = "median only"
            else:
                verdict = "no"
            owed = b["user_visible"]["owed"]
            never = b["updates"]["lost"] / owed if owed else 0.0
            if verdict != "no" and never > 1.0 - report_delivered_share:
                # A latency is a claim about the updates owed: those that never arrived are not fast.
                verdict = f"no: {never:.1%} never arrived"
            return (
                f"p50 {_ms(la['p50']).replace(' ms', '')}→{_ms(p50)}, "
                f"p99 {_ms(la['p99']).replace(' ms', '')}→{_ms(p99)} ({verdict})"
            )
        if metric == "wal":
            x, y = a["peak_retained_wal_bytes"], b["peak_retained_wal_bytes"]
            return f"{_mb(x)} → {_mb(y)} ({'yes' if y == 0 else 'no'})"
        if metric == "db":
            x, y = a["database"]["realtime_time_ms"], b["database"]["realtime_time_ms"]
            verdict = "yes" if x > 0 and y <= 0.1 * x else "no"
            seen = b["user_visible"]
            if verdict == "yes" and seen["delivered_to_socket"] and not seen["applied_by_page"]:
                verdict = "yes: page inert"  # the page runs none of its handlers, hence none of their queries
            return f"{_secs(x)} → {_secs(y)} {_change(x, y)} ({verdict})"
        if metric == "polls":
            hours = report.duration_s / 3600
            return (
                f"{_int(a['database']['queries']['list_changes_polls'])} → "
                f"{_int(b['database']['queries']['list_changes_polls'])} in {hours:g} h"
            )
        x, y = a["bytes_sent"], b["bytes_sent"]
        verdict = "yes" if x > 0 and y <= 0.3 * x else "no"
        return f"{_mb(x)} → {_mb(y)} {_change(x, y)} ({verdict})"

    names = {
        "users": "Concurrent users",
        "latency": f"{latency_of.replace('_', ' ').capitalize()} latency",
        "wal": "WAL lag",
        "db": "Database load",
        "bandwidth": "Bandwidth usage",
        "polls": "list_changes() calls",
    }
    rows = tuple((label, claims[key], key) for key, label in names.items() if key in claims)
    width = 50
    title = claims.get("title") or "Claims"
    lines.append(f"{title}, simulated: {_LABELS[old]} → {_LABELS[new]} (holds? yes/no)")
    if report.backtest:
        held = sum(1 for r in report.backtest["symptoms"] if r["reproduced"])
        lines.append(
            f"Judged against this backtest baseline, which reproduces {held} of the "
            f"{len(report.backtest['symptoms'])} measured symptoms (above)."
        )
    else:
        lines.append(
            "Judged against this scenario's postgres_changes, not a measured past: a scenario with "
            "[backtest] judges it against a baseline built to reproduce measured symptoms."
        )
    header = "Metric".ljust(22) + "Claim".ljust(24) + "".join(f"Simulated, {t}".ljust(width) for t, _ in columns)
    lines.append(header.rstrip())
    lines.append("─" * len(header.rstrip()))
    for name, claim, metric in rows:
        cells = "".join(cell(m, metric).ljust(width - 2) + "  " for _t, m in columns)
        lines.append((name.ljust(22) + claim.ljust(24) + cells).rstrip())
    if by[new]["user_visible"]["delivered_to_socket"] and not by[new]["user_visible"]["applied_by_page"]:
        lines.append("")
        lines.append(
            f"Client profile {report.profile}: its callbacks read the realtime-js envelope, not its .payload, so "
            f"{by[new]['user_visible']['delivered_to_socket']:,} broadcast updates reached the socket and none "
            "reached the page; its handlers (and their queries) never run, which is why the database load falls."
        )
    if "bandwidth" in claims:
        lines.extend(_bandwidth_note(by[old], by[new], old, new))
    lines.extend(_pg_notify_note(main))
    return lines


def _bandwidth_note(a: dict[str, Any], b: dict[str, Any], old: str, new: str) -> list[str]:
    """Bytes per delivery beside deliveries: which of the two the bandwidth saving comes from."""
    na, nb = a["messages_sent"], b["messages_sent"]
    if not na or not nb:
        return []
    pa, pb = a["bytes_sent"] / na, b["bytes_sent"] / nb
    return [
        "",
        f"Bandwidth, where the difference comes from: {_LABELS[old]} sends {pa:,.0f} B per delivery (the "
        f"postgres_changes frame: the whole row, its column list and the envelope), {_LABELS[new]} {pb:,.0f} B "
        f"(the trigger's payload in its envelope), ×{pb / pa:.2f} per delivery; deliveries {na:,} → {nb:,} "
        f"(×{nb / na:.2f}, what each client subscribes to). Bytes: ×{b['bytes_sent'] / a['bytes_sent']:.2f}.",
    ]


def _pg_notify_note(main: list[RunSummary]) -> list[str]:
    pg = next((r.metrics["broadcast:pg_notify"] for r in main if r.architectures == ("broadcast:pg_notify",)), None)
    if pg is None:
        return []
    lost, owed = pg["updates"]["lost"], pg["updates"]["owed"]
    return [
        "",
        f"broadcast (pg_notify), the app's triggers as written: Realtime has no LISTEN path, so "
        f"{pg['messages_published']:,} notifications reached no one — {lost:,} of {owed:,} updates lost "
        f"({pg['updates']['lost_per_client_mean']:,.0f} per client).",
    ]


def _header(report: SimulationReport) -> list[str]:
    hours = int(report.duration_s // 3600)
    minutes = int(report.duration_s % 3600 // 60)
    faults = []
    for f in report.faults:
        if f["kind"] == "restart":
            faults.append(f"server restart ({f['duration_s']:g} s down) at {_clock(f['at_s'])}")
        else:
            faults.append(f"{f['kind']} {f['fraction']:.0%} for {f['duration_s']:g} s at {_clock(f['at_s'])}")
    clients = " + ".join(f"{n:,} {name}" for name, n in report.populations.items())
    keys = " · ".join(f"{n:,} {name}" for name, n in report.entities.items())
    writes = " · ".join(f"{n:,} {label}" for label, n in report.workload.items())
    phases = " · ".join(f"{p['name']} {_clock(p['start_s'])}" for p in report.phases)
    lines = [
        f"bcastsim simulate · scenario {report.scenario_name} · seed {report.seed}",
        f"replay: {report.replay_command}",
        "",
        report.title,
    ]
    if report.description and report.description != report.title:
        lines.append(report.description)
    lines += [
        f"Event   {hours} h {minutes:02d} min · {clients} · {keys}",
        f"Writes  {writes}",
    ]
    if phases:
        lines.append(f"Phases  {phases}")
    lines += [
        f"Plan    {report.plan.describe()}",
        *([f"Rules   {report.realtime}"] if report.realtime else []),
        f"Client  profile {report.profile}: {report.profile_summary}",
        f"Faults  {' · '.join(faults) if faults else 'none'}",
        f"Models  payload sizes: {report.payload_source}; database costs: {report.cost_source}",
        "",
    ]
    return lines


def _rollout(report: SimulationReport) -> list[str]:
    lines = [
        f"Rollout stages (broadcast over {report.rollout_transport}; plan {report.plan.name})",
    ]
    header = (
        f"{'stage':>6} {'broadcast':>10} {'pg_changes':>11} {'conn. fail*':>11} {'peak lag':>10} {'peak WAL':>10} "
        f"{'lost/client b':>14} {'lost/client pc':>15}  rollback"
    )
    lines.append(header)
    lines.append("─" * len(header))
    for run in report.runs:
        r = run.rollback or {}
        verdict = "ROLL BACK: " + "; ".join(r["reasons"]) if r.get("rollback") else "continue"
        lines.append(
            f"{r['stage']:>5}% {r['broadcast_clients']:>10,} {r['postgres_changes_clients']:>11,} "
            f"{_pct(r['connection_failure_rate']):>11} {_ms(r['peak_lag_ms']):>10} "
            f"{_mb(r['peak_retained_wal_bytes']):>10} {r['broadcast_lost_per_client']:>14,.1f} "
            f"{r['postgres_changes_lost_per_client']:>15,.1f}  {verdict}"
        )
    lines.append("")
    lines.append(
        "* failed (re)connections: one per broadcast client and drop that the service refused or could not serve, "
        "however often it retried; the rollback trigger compares this same rate with its limit."
    )
    lines.append(
        "The rollback triggers watch connection failures and lag spikes only; 'lost/client b' is what a broadcast "
        "user misses, which no trigger looks at."
    )
    lines.append("")
    for run in report.runs:
        lines.extend(_table(f"Stage {run.rollout_percentage}%", _split(run), report.headline))
        lines.append("")
    return lines


def _split(run: RunSummary) -> list[RunSummary]:
    """One pseudo-run per architecture of a mixed run, so the side-by-side table can show it."""
    from attrs import evolve

    return [evolve(run, architectures=(name,), metrics={name: run.metrics[name]}) for name in run.architectures]


# Per measured symptom: how it is named, how a value prints, the mechanism that produces it, and, when
# the simulation misses it, why no documented mechanism in the model closes the gap.
def _why_calls(f: dict[str, float], row: dict[str, Any]) -> str:
    rate = row["measured"] / (f["duration_h"] * 3600.0)
    return (
        f"one poller that waits {f['poll_interval_ms']:g} ms after an empty poll makes at most "
        f"{f['idle_calls_per_s']:.1f} calls/s ({f['idle_calls_per_s'] * f['duration_h'] * 3600:,.0f} in "
        f"{f['duration_h']:g} h) plus one at once after each poll that returned rows; {row['measured']:,.0f} is "
        f"{rate:.0f}/s, which needs rows back on about {1 - f['idle_calls_per_s'] / rate:.0%} of the polls for the "
        f"whole event, a steady stream of changes on subscribed tables; the event has {f['changes']:,.0f} of them "
        f"({f['changes'] / (f['duration_h'] * 3600):.2f}/s on average). What the arithmetic allows instead: "
        f"{row['measured']:,.0f} calls are {row['measured'] / f['idle_calls_per_s'] / 3600:,.1f} h of one idle "
        "poller, so a count taken over that long (pg_stat_statements counts from its last reset, not per event: "
        f"the hours around the event, or several events) gives it with no other writer; or "
        f"{row['measured'] / (f['idle_calls_per_s'] * f['duration_h'] * 3600):.1f} pollers idling through the "
        f"{f['duration_h']:g} h at once (a poller per subscribed Realtime node or connection pool), which the "
        "sources read do not document; neither is assumed here"
    )


def _why_wal(f: dict[str, float], row: dict[str, Any]) -> str:
    if not f["archive_timeout_s"]:
        return (
            "with archive_timeout = 0 no segment switch pads the WAL, and the slot keeps only what was written "
            "since its restart point (at most one 15 s running-transactions interval plus the poller's lag of "
            f"{f['peak_poller_lag_s']:,.0f} s); at {f['wal_bytes_per_s'] / 1000:,.0f} kB/s of WAL "
            f"{row['measured'] / 1e6:g} MB is {row['measured'] / f['wal_bytes_per_s']:,.0f} s of it"
        )
    return (
        f"a switch every {f['archive_timeout_s']:g} s pads a 16.8 MB segment minus the "
        f"{f['wal_bytes_per_s'] * f['archive_timeout_s'] / 1e6:.1f} MB written since the last one; the event's "
        "writes and background WAL change that part"
    )


def _why_period(f: dict[str, float], row: dict[str, Any]) -> str:
    if not f["archive_timeout_s"]:
        return (
            "with archive_timeout = 0 nothing documented in Realtime or PostgreSQL repeats every "
            f"{row['measured']:g} s; Supabase archives with archive_timeout = 120"
        )
    return f"the spikes repeat with the segment switches, every archive_timeout = {f['archive_timeout_s']:g} s"


def _why_close(f: dict[str, float], row: dict[str, Any]) -> str:
    return (
        f"each change costs the poller {f['ms_per_change']:.1f} ms with {f['listeners_per_table']:,.0f} listeners "
        "on its table (Realtime's realtime.apply_rls as calibrate measures it, plus decoding), so it keeps up "
        f"with {1000 / f['ms_per_change']:.0f} changes/s against {f['busiest_minute_changes_per_s']:.1f}/s in the "
        f"event's busiest minute, and it is never more than {f['peak_poller_lag_s']:,.0f} s behind; a "
        f"{row['measured']:g} s delay at the close needs a backlog that long, which this work and these changes "
        "do not build"
    )


def _how_failure(bt: dict[str, Any]) -> str:
    cap = bt.get("connections_cap")
    first = next((r for r in bt["failure_search"] if r["fails"]), None)
    if first is None:
        return "no searched audience fails"
    if "refused" in first["fails"] and cap:
        return (
            f"plan {bt['failure_plan']} allows {cap:,.0f} concurrent connections: {first['clients']:,} clients "
            f"(the audience and the other populations) leave {first['clients'] - cap:,.0f} refused, and each "
            "retries without end"
        )
    if "lost" in first["fails"]:
        return (
            f"{_pct(first['lost_share'])} of the updates owed to {first['clients']:,} clients are lost "
            f"(over {_pct(bt['failure_lost_share'])}); {first.get('dropped_over_message_rate', 0):,.0f} deliveries "
            f"were dropped over plan {bt['failure_plan']}'s message rate as this model judges it (docs/simulate.md)"
        )
    return "the poller falls behind: authorization work grows with listeners × changes"


def _why_failure(f: dict[str, float], row: dict[str, Any]) -> str:
    found = (
        f"the poller first falls that far behind at {row['simulated']:,.0f} users"
        if row["simulated"]
        else f"no searched audience (up to {f['largest_audience_searched']:,.0f} users) puts the poller that far behind"
    )
    return (
        f"{found}; at {row['measured']:,.0f} users a change costs {f['ms_per_change_at_measured_failure']:.1f} ms "
        f"(capacity {f['capacity_at_measured_failure']:.0f} changes/s) against "
        f"{f['busiest_minute_at_measured_failure']:.1f} changes/s in its busiest minute, so failing there needs "
        "several times the measured work per change or the changes, which the seed does not document"
    )


_Why = Callable[[dict[str, float], dict[str, Any]], str]
# Label, format, the mechanism, and why it falls short (from the backtest's own figures).
_SYMPTOMS: dict[str, tuple[str, Callable[[float], str], str, _Why]] = {
    "list_changes_calls": (
        "list_changes() calls in the event",
        _int,
        "one poller: again at once while rows come back, else after poll_interval_ms",
        _why_calls,
    ),
    "wal_spike_bytes": (
        "WAL retained by the slot, spike",
        _mb,
        "archive_timeout forces a segment switch; the slot retains the padded segment until its next "
        "running-transactions record",
        _why_wal,
    ),
    "wal_spike_period_s": (
        "time between WAL spikes",
        lambda v: _secs(v * 1000),
        "one forced segment switch every archive_timeout",
        _why_period,
    ),
    "bid_delay_at_close_s": (
        "bid delay at the auction close (p95)",
        lambda v: _secs(v * 1000),
        "bids queue behind the poller, each costing realtime.apply_rls's work per bid listener",
        _why_close,
    ),
    "fails_at_users": (
        "users at which it fails",
        _int,
        "smallest audience whose poller falls failure_lag_s behind: authorization work grows with listeners × changes",
        _why_failure,
    ),
}


def _by_profile(report: SimulationReport, main: list[RunSummary]) -> list[str]:
    """What users see under each client profile: the same broadcast event, other browser code."""
    name = "broadcast:realtime.send"
    others = [r for r in report.runs if r.profile]
    this = [r for r in main if r.architectures == (name,)]
    if not others or not this:
        return []
    rows = [(f"{report.profile} (this report)", this[0].metrics[name])]
    rows += [(r.profile, r.metrics[name]) for r in others]
    keys = ("delivered_to_socket", "applied_by_page", "shown_within_1s", "shown_within_5s", "recovered_by_refetch")
    heads = ("socket", "page", "≤ 1 s", "≤ 5 s", "refetched")
    lines = [
        f"What users see by client profile: {_LABELS[name]}, plan {report.plan.name} (share of the updates owed)",
        f"{'profile':28}" + "".join(f"{h:>11}" for h in heads) + f"{'lost/client':>13}",
    ]
    lines.append("─" * len(lines[1]))
    for label, m in rows:
        shares = m["user_visible"]["share_of_owed"]
        lines.append(
            f"{label:28}"
            + "".join(f"{_pct(shares[k]):>11}" for k in keys)
            + f"{m['updates']['lost_per_client_mean']:>13,.1f}"
        )
    lines.append("")
    return lines


def _failure_search(bt: dict[str, Any]) -> list[str]:
    """One line per searched audience: its lag, refusals and losses, and why it fails (if it does)."""
    cap = bt.get("connections_cap")
    lines = [
        f"Failure search on plan {bt['failure_plan']}"
        + (f" ({cap:,.0f} concurrent connections)" if cap else "")
        + f": fails when the poller is over {bt['failure_lag_s']:g} s behind, over "
        f"{_pct(bt['failure_lost_share'])} of the updates owed are lost, or over "
        f"{_pct(bt['failure_refused_share'])} of the clients are refused"
    ]
    names = {"lag": "poller lag", "refused": "connections refused", "lost": "updates lost"}
    for r in bt["failure_search"]:
        why = ", ".join(names[k] for k in r["fails"]) or "ok"
        lines.append(
            f"  {r['audience']:>6,} users ({r['clients']:,} clients): lag {r['peak_lag_s']:,.0f} s · refused "
            f"{r['refused']:,} · lost {_pct(r['lost_share'])} → {why}"
        )
    return lines


def _backtest(report: SimulationReport) -> list[str]:
    bt = report.backtest
    if not bt:
        return []
    tol = bt["tolerance"]
    lines = [
        f"Backtest: the seed's measured symptoms against this scenario (reproduced = within ×{tol:g})",
        f"{'Symptom':40}{'Seed measured':>16}{'Simulated':>16}{'ratio':>9}  reproduced",
    ]
    lines.append("─" * (len(lines[1]) + 2))
    missing = []
    held = []
    for row in bt["symptoms"]:
        label, fmt, how, why = _SYMPTOMS[row["symptom"]]
        simulated = "–" if row["simulated"] is None else fmt(row["simulated"])
        ratio = "–" if row["ratio"] is None else f"{row['ratio']:.2f}"
        lines.append(
            f"{label:40}{fmt(row['measured']):>16}{simulated:>16}{ratio:>9}  {'yes' if row['reproduced'] else 'NO'}"
        )
        if not row["reproduced"]:
            missing.append(f"  {label}: {why(bt['figures'], row)}.")
        else:
            held.append(f"  {label}: {_how_failure(bt) if row['symptom'] == 'fails_at_users' else how}.")
    lines.extend(_failure_search(bt))
    if held:
        lines.append("Reproduced by these documented mechanisms (docs/simulate.md#backtest):")
        lines.extend(held)
    if missing:
        lines.append("Not reproduced by any mechanism in the model:")
        lines.extend(missing)
    lines.append("")
    return lines


def render_text(report: SimulationReport) -> str:
    lines = _header(report)
    if report.mode == "rollout":
        lines.extend(_rollout(report))
    else:
        main = [r for r in report.runs if " @ " not in r.label and not r.profile]
        reference = [r for r in report.runs if " @ " in r.label and not r.profile]
        lines.extend(caps_exceeded(report, main))
        lines.extend(_table(f"On plan {report.plan.name}", main, report.headline))
        lines.append(_FOOTNOTE)
        lines.extend(f"Assumed: {text}." for text in report.assumptions)
        lines.append("")
        lines.extend(_requirements(report, main))
        lines.extend(why_section(report, main))
        if reference:
            lines.extend(_table(f"Same event, plan {reference[0].plan}", reference, report.headline, _REFERENCE_ROWS))
            lines.append("")
        lines.extend(_by_profile(report, main))
        lines.extend(_backtest(report))
        claims = _claims(report, main, reference)
        if claims:
            lines.extend(claims)
            lines.append("")
        examples = [(r.label, e) for r in main for e in r.metrics[r.architectures[0]]["delivery_check"]["examples"][:1]]
        if examples:
            lines.append("First delivery-check example per run:")
            lines.extend(f"  {label}: {example}" for label, example in examples)
            lines.append("")
    lines.append(
        f"runs: {len(report.runs)} · events: {sum(r.events for r in report.runs):,} · "
        f"client groups: {sum(r.cohorts for r in report.runs):,}"
    )
    lines.append(f"fingerprint: sha256:{report.fingerprint}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- why: caps and causes
# Reports say why, from what the simulation recorded: the plan's caps the audience exceeds, stated
# before the numbers, and for each run the cause of its largest loss and of its failed connections,
# with the arithmetic (which limit, which messages in which second, which population).


def _realtime_runs(report: SimulationReport, main: list[RunSummary]) -> list[tuple[str, dict[str, Any]]]:
    """(label, metrics) of the runs on the report's plan whose clients connect to Realtime."""
    return [
        (_LABELS.get(r.architectures[0], r.architectures[0]), r.metrics[r.architectures[0]])
        for r in main
        if r.plan == report.plan.name and r.architectures[0] != "listen_notify"
    ]


def _per_second(value: float) -> str:
    return "∞" if value == float("inf") else _int(value)


def caps_exceeded(report: SimulationReport, main: list[RunSummary]) -> list[str]:
    """The plan's caps this audience goes over, each with the figures that show it; nothing when none is."""
    plan = report.plan
    runs = _realtime_runs(report, main)
    if not runs:
        return []
    lines: list[str] = []
    clients = sum(report.populations.values())
    if clients > plan.connections:
        never = ", ".join(
            f"{label} {m['connections']['never_connected']:,}"
            for label, m in runs
            if "never_connected" in m["connections"]
        )
        lines.append(
            f"  connections: {clients:,} clients against {plan.name}'s {_int(plan.connections)} concurrent "
            f"connections: {clients - int(plan.connections):,} cannot hold one at the same time"
            + (f" (never connected: {never})" if never else "")
        )
    for label, m in runs:
        rate = m.get("message_rate")
        if not rate or not rate["seconds_over_limit"]:
            continue
        first = rate["first_second_over_limit"]
        lines.append(
            f"  message rate ({label}): Realtime's average over up to the last minute was over {plan.name}'s "
            f"{_per_second(plan.messages_per_second)} messages/s (fan-out counted per subscriber) in "
            f"{rate['seconds_over_limit']:,} second(s), from {_clock(first)}, at most {rate['peak_average']:,.0f}/s; "
            f"the busiest second asked {rate['peak_deliveries_per_s']:,} deliveries"
        )
    if not lines:
        return []
    return ["Caps this audience exceeds (before the numbers below):", *lines, ""]


def _kinds(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {kind.replace('_', ' ')}" for kind, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def _rate_cause(report: SimulationReport, m: dict[str, Any]) -> str | None:
    rate = m.get("message_rate")
    if not rate or not (rate["deliveries_dropped"] or m["limit_violations"]["channels_closed_over_message_rate"]):
        return None
    first = next(s for s in rate["busiest_seconds"] if s["second"] == rate["first_second_over_limit"])
    asked = sum(first["deliveries"].values())
    messages = sum(first["messages"].values())
    fan = ", ".join(
        f"{n:,} {kind.replace('_', ' ')} message(s) × {first['deliveries'][kind] / n:,.0f} subscribers"
        for kind, n in sorted(first["messages"].items(), key=lambda kv: -first["deliveries"][kv[0]])
    )
    closed = m["limit_violations"]["channels_closed_over_message_rate"]
    text = (
        f"the plan's message rate, judged as Realtime judges it (its average over up to the last minute): from "
        f"{_clock(first['second'])} the average stood at {rate['average_at_first']:,.0f}/s against "
        f"{report.plan.name}'s {_per_second(report.plan.messages_per_second)} messages/s, when {messages:,} "
        f"messages ({fan}) asked for {asked:,} deliveries in one second"
    )
    if first["dropped"]:
        text += (
            f"; {_kinds(first['dropped'])} deliveries to {', '.join(first['dropped_by_population'])} were dropped there"
        )
    if rate["deliveries_dropped"]:
        text += (
            f", {rate['deliveries_dropped']:,} in all over the {rate['seconds_over_limit']:,} second(s) the "
            f"average was over (at most {rate['peak_average']:,.0f}/s; the busiest second asked "
            f"{rate['peak_deliveries_per_s']:,} deliveries)"
        )
    if closed:
        text += f"; {closed:,} channels were closed for it, and every update on a closed channel is lost"
    return text


def loss_causes(report: SimulationReport, m: dict[str, Any]) -> list[tuple[int, str]]:
    """The run's loss split by cause, largest first: (updates, why with its arithmetic).

    Exact where the simulation counts the loss itself (partitions, notifications with no path);
    for clients that never connected, their share of what was owed; the message rate takes the
    rest when it dropped deliveries (closed channels lose everything after the drop).
    """
    lost = m["updates"]["lost"]
    if not lost:
        return []
    causes: list[tuple[int, str]] = []
    undeliverable = m["updates"]["undeliverable_notifications"]
    if undeliverable and not m["user_visible"]["delivered_to_socket"]:
        return [(lost, f"Realtime has no LISTEN path: {undeliverable:,} notifications reached no one")]
    clients = m["clients"] or 1
    never = m["connections"].get("never_connected", 0)
    if never:
        share = round(m["updates"]["owed"] * never / clients)
        causes.append(
            (
                min(share, lost),
                f"{never:,} of {clients:,} clients never connected ({_pct(never / clients)}; "
                f"{report.plan.name} allows {_int(report.plan.connections)} concurrent connections): "
                f"≈ {share:,} of the {m['updates']['owed']:,} updates owed were theirs",
            )
        )
    partitions = m["updates"]["lost_in_partitions"]
    if partitions:
        causes.append((partitions, f"{partitions:,} updates arrived while their clients were cut off by a partition"))
    rate = _rate_cause(report, m)
    if rate is not None:
        rest = max(lost - sum(n for n, _ in causes), m["limit_violations"]["deliveries_dropped_over_message_rate"])
        causes.append((int(min(rest, lost)), rate))
    explained = sum(n for n, _ in causes)
    if explained < lost:
        rest = "not attributed to a limit or fault the simulation counts"
        behind = (m.get("lag_context") or {}).get("lag_at_end_ms", 0.0)
        if behind >= _LAG_WORTH_EXPLAINING_MS:
            rest += f"; the poller was still {_ms(behind)} behind at the end, and what it had not sent was never sent"
        causes.append((lost - explained, rest))
    return sorted(causes, key=lambda c: -c[0])


def _failure_cause(report: SimulationReport, m: dict[str, Any]) -> str | None:
    c = m["connections"]
    never = c.get("never_connected", 0)
    failed = c["failed_episodes"] + never
    if not failed:
        return None
    episodes = c["episodes"] + never
    text = (
        f"{failed:,} of {episodes:,} (re)connections failed ({_pct(failed / episodes)}), counting the {never:,} "
        "clients that never connected"
    )
    refused = m["limit_violations"]["connections_refused"]
    if refused:
        text += (
            f"; {report.plan.name}'s cap of {_int(report.plan.connections)} concurrent connections refused "
            f"{refused:,} attempts ({c['attempts']:,} in all, retries included)"
        )
    return text


# Below this peak commit-to-poll lag a run's lag is not worth a cause.
_LAG_WORTH_EXPLAINING_MS = 1000.0


def _lag_cause(m: dict[str, Any]) -> str | None:
    context = m.get("lag_context")
    peak = m["peak_poller_lag_ms"]
    changes = m["messages_published"]
    if not context or peak < _LAG_WORTH_EXPLAINING_MS or not changes:
        return None
    per_change = m["database"]["realtime_time_ms"] / changes
    span = max(context["at_s"] - context["since_s"], 1.0)
    written = sum(context["writes"].values())
    writes = ", ".join(f"{n:,} {name}" for name, n in sorted(context["writes"].items(), key=lambda kv: -kv[1]))
    text = (
        f"peak commit-to-poll lag {_ms(peak)}; the samples rise from {_clock(context['since_s'])} to their highest "
        f"at {_clock(context['at_s'])}, while {written:,} writes committed ({writes or 'none'}: "
        f"{written / span:,.1f}/s over {span:,.0f} s"
    )
    if context["busiest_second"] is not None:
        text += f", {context['busiest_second_writes']:,} in the busiest second, {_clock(context['busiest_second'])}"
    text += ")"
    if per_change > 0:
        text += (
            f"; the poller spends {per_change:,.1f} ms of Realtime database time per change "
            f"({_secs(m['database']['realtime_time_ms'])} over {changes:,} changes), so one poller drains at most "
            f"{1000 / per_change:,.1f} changes/s and a burst above that waits its turn"
        )
    return text


def why_section(report: SimulationReport, main: list[RunSummary]) -> list[str]:
    """Per run, the cause of its largest loss and of its failed connections, with the arithmetic."""
    lines: list[str] = []
    for run in main:
        name = run.architectures[0]
        m = run.metrics[name]
        label = _LABELS.get(name, name)
        causes = loss_causes(report, m)
        failure = _failure_cause(report, m)
        lag = _lag_cause(m)
        if not causes and not failure and not lag:
            continue
        if causes:
            lost, owed = m["updates"]["lost"], m["updates"]["owed"]
            lines.append(f"  {label}: {lost:,} of {owed:,} updates lost ({_pct(lost / owed if owed else 0)})")
            largest, why = causes[0]
            lines.append(f"    largest cause (≈ {largest:,}): {why}")
            lines.extend(f"    also (≈ {n:,}): {text}" for n, text in causes[1:])
        else:
            lines.append(f"  {label}: no update lost")
        if lag:
            lines.append(f"    lag: {lag}")
        if failure:
            lines.append(f"    connections: {failure}")
    if not lines:
        return []
    return ["Why (the largest loss, lag and failure of each run, from what the simulation counted):", *lines, ""]
