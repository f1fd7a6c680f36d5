"""The report's verdict: a run's figures against the scenario's ``[requirements]``, each check with its numbers.

A requirement is about what the app's users need, so the client profile never relaxes one: a profile that
accepts losses (``allowed_anomalies``) explains why updates were lost, and the verdict still fails when more
were lost than the requirement allows. Every latency requirement is judged over the updates owed, with those
that never arrived counted as later than any bound (``latency_of_owed_ms`` in the metrics).
"""

from __future__ import annotations

from typing import Any

from bcastsim.sim._scenario import RequirementsConfig

__all__ = ["judge"]


def _check(name: str, required: str, actual: str, ok: bool, why: str = "") -> dict[str, Any]:
    return {"requirement": name, "required": required, "actual": actual, "ok": ok, "why": why}


def _ms(value: float | None) -> str:
    return "never (too many lost)" if value is None else f"{value:,.0f} ms"


def judge(
    metrics: dict[str, Any],
    req: RequirementsConfig,
    *,
    profile: str = "",
    populations: dict[str, tuple[int, int, bool]] | None = None,
) -> dict[str, Any]:
    """``{"ok": bool, "checks": [...]}``: each requirement, what it asks, what the run did, and whether it holds.

    ``populations``: per population with a ``population_share`` requirement, (updates owed, updates lost, whether
    the page can read what arrives), from the delivery checker run on that population's clients alone.
    """
    seen = metrics["user_visible"]
    shares = seen["share_of_owed"]
    owed = seen["owed"]
    checks = []
    applied = shares["applied_by_page"] if owed else 1.0
    socket = shares["delivered_to_socket"] if owed else 1.0
    why = ""
    if socket > applied + 1e-9:
        why = (
            f"{socket:.1%} reached the socket but the page of profile {profile or 'this'} applied {applied:.1%}: "
            "what the socket got and the page could not read is lost to the user"
        )
    elif owed and socket < 1.0:
        why = f"{1 - socket:.1%} of the updates owed never reached the socket"
    held = applied >= req.delivered_share
    checks.append(_check("updates applied by the page", f"≥ {req.delivered_share:.1%}", f"{applied:.1%}", held, why))
    for name, required in sorted(req.population_share.items()):
        owed_n, lost_n, reads = (populations or {}).get(name, (0, 0, True))
        reached = (owed_n - lost_n) / owed_n if owed_n else 1.0
        shown = reached if reads else 0.0
        why = "" if reads else f"the page of profile {profile or 'this'} cannot read what reaches the socket"
        if reads and owed_n and reached < 1.0:
            why = f"{lost_n:,} of the {owed_n:,} updates owed to {name} never reached the socket"
        checks.append(
            _check(f"updates applied by the page ({name})", f"≥ {required:.1%}", f"{shown:.1%}", shown >= required, why)
        )
    owed_latency = metrics["latency_of_owed_ms"]
    arrived = owed_latency["arrived_share"]
    note = f"{1 - arrived:.1%} of the updates owed never arrived and count as late" if arrived < 1.0 else ""
    critical = owed_latency["critical"]["p95"]
    if metrics["latency_at_critical_ms"]["p95"] is not None or (owed and arrived < 1.0 and critical is None):
        checks.append(
            _check(
                "p95 latency at critical moments",
                f"≤ {req.critical_p95_ms:,.0f} ms",
                _ms(critical),
                critical is not None and critical <= req.critical_p95_ms,
                note,
            )
        )
    for kind, bound in sorted(req.p95_ms.items()):
        value = owed_latency["by_kind"].get(kind, {}).get("p95")
        present = kind in owed_latency["by_kind"]
        checks.append(
            _check(
                f"p95 latency of {kind}",
                f"≤ {bound:,.0f} ms",
                _ms(value) if present else "none delivered",
                present and value is not None and value <= bound,
                note,
            )
        )
    conn = metrics["connections"]
    # Clients still refused at the end never completed their episode: they count as failed ones.
    pending = conn.get("refused_at_end", 0)
    episodes = conn["episodes"] + pending
    rate = (conn["failed_episodes"] + pending) / episodes if episodes else 0.0
    checks.append(
        _check(
            "(re)connections refused or unserved",
            f"≤ {req.connection_failure_share:.1%}",
            f"{rate:.1%}",
            rate <= req.connection_failure_share,
        )
    )
    by_population = {name: {"owed": o, "lost": lost} for name, (o, lost, _reads) in sorted((populations or {}).items())}
    return {"ok": all(c["ok"] for c in checks), "checks": checks, "populations": by_population}
