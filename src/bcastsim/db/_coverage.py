"""Which notify sites a run of transactions reached, and why the others were not.

A property test that commits nothing or fires no notify site passes while testing
nothing. :class:`Coverage` counts, for every transaction a :class:`~bcastsim.pg.Database`
or :class:`~bcastsim.db.DatabaseModel` runs while it is :func:`recording`, the
commits, the messages per notify site (matched by transport, channel/topic and
event templates and payload keys) and the statements per table and operation with
the errors that stopped them, so it can say which sites were never reached and why.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

__all__ = ["Coverage", "SiteCoverage", "current_coverage", "paused", "recording"]

_STATEMENT = re.compile(r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+([^\s(]+)", re.IGNORECASE)
_CLOCK_CHANNEL = "bcastsim:clock"
# A message as counted: (transport, channel, event, payload keys)
_Sent = tuple[str, str, str | None, frozenset[str] | None]
_current: contextvars.ContextVar[Coverage | None] = contextvars.ContextVar("bcastsim_coverage", default=None)


@attrs.frozen
class SiteCoverage:
    """One notify site: where it is, what it sends on, and how many messages it produced."""

    key: str
    transport: str
    channel: str
    event: str | None
    tables: tuple[str, ...]
    operations: tuple[str, ...]
    guards: tuple[str, ...]
    messages: int


@attrs.frozen
class _Site:
    key: str
    transport: str
    channel: re.Pattern[str]
    event: re.Pattern[str] | None
    payload_keys: frozenset[str] | None
    shape: str
    event_shape: str | None
    tables: tuple[str, ...]
    operations: tuple[str, ...]
    guards: tuple[str, ...]


def _sites(files: tuple[str, ...]) -> list[_Site]:
    from bcastsim.sqlmodel import load_catalog

    catalog = load_catalog(list(files))
    return [
        _Site(
            site.key,
            "pg_notify" if site.transport in ("pg_notify", "NOTIFY") else "realtime",
            re.compile(site.channel.regex()),
            re.compile(site.event.regex()) if site.event is not None else None,
            frozenset(site.payload_keys) if site.payload is not None else None,
            site.channel.shape,
            site.event.shape if site.event is not None else None,
            tuple(site.tables),
            tuple(site.operations),
            tuple(site.guards),
        )
        for site in catalog.notify_sites
    ]


def _keys(payload: Any) -> frozenset[str] | None:
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError:
            return None
    return frozenset(payload) if isinstance(payload, dict) else None


@attrs.define
class Coverage:
    """Counts over the transactions run while recording (see the module docstring)."""

    sql_files: tuple[str, ...] = ()
    transactions: int = 0
    committed: int = 0
    messages: int = 0
    # (transport, channel, event, payload keys) -> messages
    sent: Counter[_Sent] = attrs.Factory(Counter)
    # (table, operation) -> statements run / failed, and the errors that stopped them
    statements: Counter[tuple[str, str]] = attrs.Factory(Counter)
    failures: Counter[tuple[str, str, str]] = attrs.Factory(Counter)
    # histories on which the model and PostgreSQL disagreed (when run through a Differential)
    mismatches: int = 0
    # Within the Hypothesis example being run: the sites and branches (site, operation) it fired.
    example_sites: set[str] = attrs.Factory(set)
    example_branches: set[tuple[str, str]] = attrs.Factory(set)
    _example: Any = attrs.field(default=None, init=False, repr=False)
    _fired_so_far: Counter[str] = attrs.field(factory=Counter, init=False, repr=False)
    _steered: Any = attrs.field(default=None, init=False, repr=False)
    # "table.check" -> CHECK text, for the constraints the generated rows do not try to satisfy
    unfollowed: dict[str, str] = attrs.Factory(dict)
    # site -> why no row can reach it (the solver's verdict on its conditions against the CHECKs)
    unreachable: dict[str, str] = attrs.Factory(dict)
    # What the model could not follow ("file:line: unsupported: construct") -> transactions it stopped
    unsupported: Counter[str] = attrs.Factory(Counter)
    _resolved: list[_Site] | None = attrs.field(default=None, init=False, repr=False)

    def observe(self, steps: Sequence[Any], result: Any, sql_files: Sequence[str | Path] = ()) -> None:
        """Count one transaction's outcome (a ``TransactionResult`` or ``TransactionOutcome``)."""
        if sql_files and not self.sql_files:
            self.sql_files = tuple(str(path) for path in sql_files)
        self.transactions += 1
        self.committed += bool(result.committed)
        failed_steps = {e.step: e for e in result.statement_errors}
        if result.error is not None:
            failed_steps[result.error.step] = result.error
        # Statements after the one that aborted the transaction never ran.
        last = result.error.step if result.error is not None else len(steps) - 1
        for target, number in self._targets(steps, last):
            self.statements[target] += 1
            error = failed_steps.get(number)
            if error is not None:
                self.failures[(*target, f"{error.sqlstate} {error.message}")] += 1
        ran = {target for target, number in self._targets(steps, last) if number not in failed_steps}
        keys: list[_Sent] = [
            ("pg_notify", n.channel, None, _keys(n.payload))
            for n in result.notifications
            if n.channel != _CLOCK_CHANNEL
        ]
        keys += [("realtime", m.topic or "", m.event, _keys(m.payload)) for m in result.messages]
        for key in keys:
            self.messages += 1
            self.sent[key] += 1
        if result.committed:
            self._note_example(keys, ran)

    @staticmethod
    def _targets(steps: Sequence[Any], last: int) -> Iterator[tuple[tuple[str, str], int]]:
        for number, step in enumerate(steps[: last + 1]):
            match = _STATEMENT.match(step) if isinstance(step, str) else None
            if match is not None:
                yield (match.group(2).strip('"').removeprefix("public."), match.group(1).split()[0].upper()), number

    def _note_example(self, keys: list[_Sent], ran: set[tuple[str, str]]) -> None:
        """Count what this transaction fired towards the running Hypothesis example, and tell Hypothesis."""
        from hypothesis import event
        from hypothesis.control import current_build_context, currently_in_test_context

        if not currently_in_test_context():
            return
        data = current_build_context().data
        if data is not self._example:
            self._example = data
            self.example_sites, self.example_branches = set(), set()
        for site in {site.key: site for key in keys for site in self._matching(*key)}.values():
            self._fired_so_far[site.key] += 1
            if site.key not in self.example_sites:
                event(f"notify site fired: {site.key}")
            self.example_sites.add(site.key)
            # The operation that fired it, when only one of the site's operations ran on its tables.
            operations = {op for table, op in ran if table in site.tables and op in site.operations}
            if len(operations) == 1:
                branch = (site.key, operations.pop())
                if branch not in self.example_branches:
                    event(f"notify site fired on {branch[1]}: {branch[0]}")
                self.example_branches.add(branch)

    def steer(self) -> None:
        """Point Hypothesis at examples that fire more sites and branches, rare ones first.

        ``target()`` on the number of distinct sites and branches this example fired, and
        on how rare they have been so far in the run. Once per example; outside a
        Hypothesis test, or called again in the same example, it does nothing.
        """
        from hypothesis import target
        from hypothesis.control import current_build_context, currently_in_test_context

        if not currently_in_test_context():
            return
        data = current_build_context().data
        if data is self._steered:
            return
        self._steered = data
        mine = (self.example_sites, self.example_branches) if data is self._example else (set(), set())
        target(float(len(mine[0]) + len(mine[1])), label="notify sites and branches fired")
        rarity = sum(1.0 / max(1, self._fired_so_far[key]) for key in mine[0])
        target(rarity, label="rarely fired notify sites reached")

    def _site_list(self) -> list[_Site]:
        if self._resolved is None:
            self._resolved = _sites(self.sql_files) if self.sql_files else []
        return self._resolved

    def _matching(self, transport: str, channel: str, event: str | None, keys: frozenset[str] | None) -> list[_Site]:
        """The sites a message fits: transport, channel and event templates, payload keys."""
        return [
            site
            for site in self._site_list()
            if site.transport == transport
            and site.channel.fullmatch(channel)
            and (site.event is None or event is None or site.event.fullmatch(event))
            and (site.payload_keys is None or keys is None or site.payload_keys == keys)
        ]

    def sites(self) -> list[SiteCoverage]:
        """Every notify site of the SQL, with the messages attributed to it."""
        counts: Counter[str] = Counter()
        for key, count in self.sent.items():
            for site in self._matching(*key):
                counts[site.key] += count
        return [
            SiteCoverage(s.key, s.transport, s.shape, s.event_shape, s.tables, s.operations, s.guards, counts[s.key])
            for s in self._site_list()
        ]

    def unreached(self) -> list[SiteCoverage]:
        return [site for site in self.sites() if site.messages == 0]

    def why(self, site: SiteCoverage) -> str:
        """The likeliest reason a site never fired: no statement reached it, or they all failed."""
        reasons = []
        for table in site.tables or ("?",):
            for operation in site.operations or ("INSERT", "UPDATE", "DELETE"):
                ran = self.statements[(table, operation)]
                failed = [
                    (count, error) for (t, o, error), count in self.failures.items() if (t, o) == (table, operation)
                ]
                if ran == 0:
                    reasons.append(f"no {operation} on {table} ran")
                elif sum(count for count, _ in failed) >= ran:
                    worst = max(failed)[1]
                    reasons.append(f"all {ran} {operation}s on {table} failed (most often: {worst})")
                elif failed:
                    worst = max(failed)[1]
                    reasons.append(
                        f"{ran} {operation}s on {table} ran, {sum(c for c, _ in failed)} failed (most often: {worst}),"
                        " the others did not reach it"
                    )
                else:
                    guard = f", or its guard ({'; '.join(site.guards)}) never held" if site.guards else ""
                    reasons.append(f"{ran} {operation}s on {table} ran without reaching it (no row matched{guard})")
        if self.unsupported:
            ((construct, count),) = self.unsupported.most_common(1)
            reasons.append(f"the model stopped {count} transactions at {construct}")
        return ", ".join(reasons)

    def vacuous(self) -> str | None:
        """Why the run tested nothing (one line), or None when it committed and fired something."""
        if self.transactions == 0:
            return None
        if self.committed == 0 and self.unsupported:
            ((construct, count),) = self.unsupported.most_common(1)
            return f"none of {self.transactions} transactions committed; the model stopped {count} at {construct}"
        if self.committed == 0:
            top = self.failures.most_common(1)
            cause = f"; most common error: {top[0][0][2]} on {top[0][0][1]} {top[0][0][0]}" if top else ""
            return f"none of {self.transactions} transactions committed{cause}"
        sites = self.sites()
        if self.messages == 0 or (sites and all(site.messages == 0 for site in sites)):
            never = "; ".join(f"{site.key}: {self.why(site)}" for site in sites) or "the SQL has no notify site"
            return f"{self.committed} of {self.transactions} transactions committed but no notify site fired ({never})"
        return None

    def status(self, site: SiteCoverage) -> str:
        """``fired``, ``unreachable: why`` or ``not reached: why`` (what ran, the error that stopped most)."""
        if site.messages:
            return "fired"
        if site.key in self.unreachable:
            return f"unreachable: {self.unreachable[site.key]}"
        return f"not reached: {self.why(site)}"

    def site_share(self) -> tuple[int, int]:
        """(reachable sites that fired, reachable sites): a site the solver proved unreachable is not counted."""
        reachable = [site for site in self.sites() if site.key not in self.unreachable]
        return sum(1 for site in reachable if site.messages), len(reachable)

    def shortfall(self, min_share: float = 1.0) -> str | None:
        """Why the run fired too few reachable sites (one line), or None when at least ``min_share`` of them fired."""
        if self.transactions == 0:
            return None
        fired, reachable = self.site_share()
        if reachable == 0 or fired >= min_share * reachable:
            return None
        never = "; ".join(
            f"{site.key}: {self.why(site)}"
            for site in self.sites()
            if not site.messages and site.key not in self.unreachable
        )
        return (
            f"{fired} of {reachable} reachable notify sites fired, below the required {min_share:.0%}"
            f" ({self.committed}/{self.transactions} transactions committed; not reached: {never})"
        )

    def table(self) -> str:
        """A plain-text table: one row per site with its message count and status, then the totals."""
        sites = self.sites()
        rows = [("site", "transport", "channel", "event", "messages", "status")]
        rows += [
            (s.key, s.transport, s.channel, s.event or "", str(s.messages), self.status(s).partition(":")[0])
            for s in sites
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(6)]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
        fired = sum(1 for s in sites if s.messages)
        shown, reachable = self.site_share()
        lines.append(
            f"{fired}/{len(sites)} notify sites fired ({shown}/{reachable} reachable);"
            f" {self.committed}/{self.transactions} transactions committed; {self.messages} messages"
        )
        for site in sites:
            if not site.messages:
                lines.append(f"{self.status(site).replace(':', f': {site.key}:', 1)}")
        for construct, count in sorted(self.unsupported.items()):
            lines.append(f"not followed by the model, {count} transactions stopped: {construct}")
        for name, sql in sorted(self.unfollowed.items()):
            lines.append(f"CHECK not followed by the generated rows (the database alone judges it): {name}: {sql}")
        return "\n".join(lines)


def current_coverage() -> Coverage | None:
    """The coverage being recorded in this context, if any."""
    return _current.get()


@contextlib.contextmanager
def recording(coverage: Coverage | None = None) -> Iterator[Coverage]:
    """Record every transaction run in this context into ``coverage`` (a new one by default)."""
    target = coverage if coverage is not None else Coverage()
    token = _current.set(target)
    try:
        yield target
    finally:
        _current.reset(token)


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """Run without recording (the model's half of a differential run, already counted on the server)."""
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)
