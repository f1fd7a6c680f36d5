"""The rule registry: each rule is data (id, severity, title, why, fix) plus a small check function.

A check reads the catalog (tables, functions, triggers, notify sites) and the review
configuration and yields findings. Rules never raise on odd SQL: what the analysis
cannot read is reported by the ``unsupported-sql`` rule instead.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import pglast
from pglast import ast
from pglast.enums import A_Expr_Kind, SQLValueFunctionOp
from pglast.stream import RawStream

from bcastsim._gc import collection_paused
from bcastsim.findings import Finding, Severity
from bcastsim.review._analysis import (
    ALL_OPS,
    Statement,
    decided_ops,
    exception_handlers,
    protected_linenos,
    reads_of,
    statements,
    tg_op_literals,
)
from bcastsim.review._config import CHANNEL_CONSUMERS, ReviewConfig
from bcastsim.review._danger import privilege_rules
from bcastsim.review._fixes import (
    Patch,
    call_close,
    edit_span,
    hunks,
    indentation,
    insert_after,
    masked,
    masked_source,
    replace_span,
    replace_text,
    source_lines,
    statement_at,
)
from bcastsim.review._listen import project_listens
from bcastsim.review._report import RuleInfo
from bcastsim.review._suppress import statement_spans
from bcastsim.sqlmodel import expression_reads, graphs_kept, may_read, object_bytes, parser_nodes_trusted

if TYPE_CHECKING:
    from bcastsim.sqlmodel import Catalog, Function, NotifySite, Trigger

__all__ = ["RULES", "Rule", "RuleContext", "rule_catalogue", "run_rules"]

NOTIFY_PAYLOAD_LIMIT = 7999
CHANNEL_LIMIT = 63
# Supabase's smallest plan's broadcast payload limit; larger messages are dropped by the server.
REALTIME_PAYLOAD_LIMIT = 256 * 1024

_NOTIFY_TRANSPORTS = ("pg_notify", "NOTIFY")
# Channels other servers LISTEN on to take orders from the database (PostgREST's schema/config reload).
CONTROL_CHANNELS = frozenset({"pgrst"})
# The diagnostic of a send inside a WITH query nothing reads.
NEVER_RUNS = "send-never-runs"
_REALTIME_TRANSPORTS = ("realtime.send", "realtime.broadcast_changes")


@attrs.frozen
class RuleContext:
    """What a rule may look at: the catalog of one version and the configuration."""

    catalog: Catalog
    config: ReviewConfig
    #: channel → ``file:line`` where the project's own code LISTENs on it (see ``_listen``)
    worker_listens: Mapping[str, str] = attrs.field(factory=dict)
    #: function → the lines of its statements in protected blocks, filled as rules ask
    _protected: dict[str, frozenset[int]] = attrs.field(factory=dict, init=False, repr=False, eq=False)
    #: id of a site → the site (so its id is not reused meanwhile), its transport and why: several rules ask
    _transports: dict[int, tuple[NotifySite, tuple[str, str]]] = attrs.field(
        factory=dict, init=False, repr=False, eq=False
    )

    def sites(self) -> tuple[NotifySite, ...]:
        """Sites that can run: in functions some trigger fires, or in functions called directly."""
        return self._running_sites

    @functools.cached_property
    def _running_sites(self) -> tuple[NotifySite, ...]:
        # Every site rule asks: worked out once per context.
        return tuple(site for site in self.catalog.notify_sites if not self.orphan(site.function))

    @functools.cached_property
    def sites_by_function(self) -> Mapping[str, tuple[NotifySite, ...]]:
        """Every site (orphans too) by the function it sits in, in file order."""
        grouped: dict[str, list[NotifySite]] = {}
        for site in self.catalog.notify_sites:
            grouped.setdefault(site.function or "", []).append(site)
        return {name: tuple(found) for name, found in grouped.items()}

    @functools.cached_property
    def update_befores(self) -> Mapping[str, tuple[str, ...]]:
        """Table → the enabled BEFORE UPDATE triggers on it, in catalog order (asked once per finding)."""
        grouped: dict[str, list[str]] = {}
        for trigger in self.catalog.triggers.values():
            if trigger.enabled and trigger.timing == "BEFORE" and "UPDATE" in trigger.events:
                grouped.setdefault(trigger.table, []).append(trigger.name)
        return {table: tuple(names) for table, names in grouped.items()}

    def orphan(self, function: str | None) -> bool:
        """A trigger function no enabled trigger runs: nothing it would send is ever sent."""
        if function is None:
            return False
        definition = self.catalog.functions.get(function)
        if definition is None or definition.returns.lower() != "trigger":
            return False
        return not self.triggers_for(function)

    def function(self, name: str) -> Function | None:
        return self.catalog.functions.get(name)

    def protected_lines(self, name: str | None) -> frozenset[int]:
        """The file lines of a function's statements inside a ``BEGIN … EXCEPTION`` block (a savepoint).

        Read from the function's control-flow graph once per function, not once per site: a body
        with thousands of sites is walked once.
        """
        function = self.catalog.functions.get(name or "")
        if function is None or function.plpgsql is None:
            return frozenset()
        cache = self._protected
        if name not in cache:
            linenos = protected_linenos(function.plpgsql, function.body)
            cache[name or ""] = frozenset(function.file_line(lineno).line for lineno in linenos) if linenos else linenos
        return cache[name or ""]

    @functools.cached_property
    def targets_realtime(self) -> bool:
        """Whether the project shows it targets Supabase Realtime (``--transport auto``).

        Asked once per site by several rules: cached, since it scans the whole catalog.
        """
        catalog = self.catalog
        return (
            "realtime" in catalog.schemas
            or any(name.startswith("realtime.") for name in (*catalog.functions, *catalog.tables))
            or any(site.transport in _REALTIME_TRANSPORTS for site in catalog.notify_sites)
            or any("supabase/migrations" in path.replace("\\", "/") for path in catalog.paths)
        )

    def transport_of(self, site: NotifySite) -> str:
        """The transport a site is judged against: ``supabase-realtime`` or ``postgres``."""
        return self.transport_decision(site)[0]

    def transport_decision(self, site: NotifySite) -> tuple[str, str]:
        """The transport a site is judged against, and why.

        In order: ``--transport``/``transport`` when not ``auto``; a ``[tool.bcastsim.channels]``
        entry matching the channel; ``realtime.*`` calls are Realtime; a channel the inputs'
        ``LISTEN`` statements, the project's worker code or a known server (PostgREST) listens on
        is LISTEN/NOTIFY; else Realtime when the inputs target it, and self-hosted LISTEN/NOTIFY
        when they do not — an assumption, said so.
        """
        known = self._transports.get(id(site))
        if known is not None and known[0] is site:
            return known[1]
        decided = self._decide_transport(site)
        self._transports[id(site)] = (site, decided)
        return decided

    def _decide_transport(self, site: NotifySite) -> tuple[str, str]:
        if self.config.transport != "auto":
            return self.config.transport, f"transport = {self.config.transport!r} is configured"
        channel = str(site.channel)
        configured = self.config.channel_consumer(channel)
        if configured is not None:
            pattern, consumer = configured
            return CHANNEL_CONSUMERS[consumer], f"[tool.bcastsim.channels] {pattern!r} = {consumer!r}"
        if site.transport in _REALTIME_TRANSPORTS:
            return "supabase-realtime", f"{site.transport} writes to realtime.messages"
        if site.channel.is_literal and channel in self.catalog.listens:
            return "postgres", f"the inputs LISTEN on '{channel}'"
        if site.channel.is_literal and channel in CONTROL_CHANNELS:
            return "postgres", f"'{channel}' is a control channel a server LISTENs on"
        if self.worker_listens:
            regex = re.compile(site.channel.regex())
            for listened, where in self.worker_listens.items():
                if regex.fullmatch(listened):
                    return "postgres", f"the project's code LISTENs on '{listened}' ({where})"
        if self.targets_realtime:
            return "supabase-realtime", "the inputs target Supabase Realtime and nothing in the project LISTENs on it"
        return "postgres", "no realtime schema in the inputs: assumed self-hosted LISTEN/NOTIFY"

    def listened_privately(self, site: NotifySite) -> bool:
        """A pg_notify site of a LISTEN/NOTIFY project: only database sessions can hear it."""
        return site.transport in _NOTIFY_TRANSPORTS and self.transport_of(site) == "postgres"

    def triggers_for(self, function: str) -> tuple[Trigger, ...]:
        found = self._enabled_triggers.get(function)
        if found is None:
            found = self._enabled_triggers[function] = tuple(
                t for t in self.catalog.triggers_for(function) if t.enabled
            )
        return found

    @functools.cached_property
    def _enabled_triggers(self) -> dict[str, tuple[Trigger, ...]]:
        # Rules ask for the triggers of each function in turn; the catalog does not change under them.
        return {}


CheckFn = Callable[[RuleContext, "Rule"], Iterable[Finding]]


@attrs.frozen(kw_only=True)
class Rule:
    """A rule: its description as data and the function that applies it."""

    id: str
    severity: Severity
    title: str
    why: str
    fix: str
    check: CheckFn = attrs.field(eq=False, repr=False)

    @property
    def info(self) -> RuleInfo:
        return RuleInfo(id=self.id, severity=self.severity, title=self.title, why=self.why, fix=self.fix)

    def finding(
        self,
        ctx: RuleContext,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        channel: str | None = None,
        function: str | None = None,
        severity: Severity | None = None,
        patch: Patch | None = None,
        explanation: str | None = None,
        example: str | None = None,
    ) -> Finding:
        """A finding with a patch (its summary is the fix), or else an explanation (the rule's by default)."""
        chosen = ctx.config.severity_of(self.id, severity or self.severity)
        return Finding(
            rule=self.id,
            severity=chosen,
            message=message,
            path=path,
            line=line,
            channel=channel,
            function=function,
            fix=patch.summary if patch is not None else None,
            patch=patch.diff if patch is not None else None,
            explanation=None if patch is not None else explanation or self.fix,
            why=self.why,
            example=example,
        )

    def at_site(
        self,
        ctx: RuleContext,
        site: NotifySite,
        message: str,
        *,
        severity: Severity | None = None,
        patch: Patch | None = None,
        explanation: str | None = None,
    ) -> Finding:
        """A finding located at a send call: its file and line, function and channel."""
        return self.finding(
            ctx,
            message,
            path=site.location.path,
            line=site.location.line,
            channel=str(site.channel),
            function=site.function,
            severity=severity,
            patch=patch,
            explanation=explanation,
        )


# -- shared lookups -------------------------------------------------------------------------


def is_public(site: NotifySite) -> bool:
    """Whether anyone may receive the site's messages without an authorization check."""
    if site.transport in _NOTIFY_TRANSPORTS:
        # Any database session may LISTEN on any channel; there is no ACL on channels.
        return True
    if site.transport == "realtime.broadcast_changes":
        return False
    return site.private is False


def _medium(site: NotifySite) -> str:
    return "topic" if site.transport in _REALTIME_TRANSPORTS else "channel"


# -- the rules ---------------------------------------------------------------------------


def _unbounded_reason(site: NotifySite) -> str:
    """Why a payload has no bound: the unbounded fields by key, else what the site says."""
    fields = [
        f"{field.key}: {field.unbounded_reason or 'no length limit'}"
        for field in site.payload or ()
        if field.max_bytes is None
    ]
    if fields:
        return "; ".join(fields)
    return site.unbounded_reason or "a value has no length limit"


def _statement_end(path: str, line: int) -> int | None:
    """The last line of the statement holding ``line`` in the file at ``path``."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return next((last for first, last in statement_spans(text) if first <= line <= last), None)


def _headroom(site: NotifySite) -> str:
    """The byte arithmetic of an unbounded payload: how large the unbounded values may grow before the abort."""
    unbounded = [field for field in site.payload or () if field.max_bytes is None]
    if not unbounded or site.payload_format is None:
        return f"a value of {NOTIFY_PAYLOAD_LIMIT + 1} bytes or more aborts it"
    # The rest of the payload at its worst case, the unbounded values left out (zero bytes each).
    rest = object_bytes(site.payload or (), site.payload_format, unbounded_as=0)
    if rest is None:
        return f"a value of {NOTIFY_PAYLOAD_LIMIT + 1} bytes or more aborts it"
    room = NOTIFY_PAYLOAD_LIMIT - rest
    keys = ", ".join(repr(f.key) for f in unbounded)
    return (
        f"the rest of the payload takes up to {rest} bytes, so {keys} rendered in more than {room} bytes "
        f"({NOTIFY_PAYLOAD_LIMIT} − {rest}) aborts the write"
    )


def _payload_too_large(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    for site in ctx.sites():
        if site.payload is None and site.max_payload_bytes is None and site.unbounded_reason is None:
            continue
        size = site.max_payload_bytes
        if size is None and not site.size_traced:
            yield rule.at_site(
                ctx,
                site,
                f"{site.transport} payload size is unknown ({_unbounded_reason(site)}): the analysis could not "
                "follow it, so whether it stays under the transport's limit is not known",
                severity=Severity.NOTE,
            )
        elif site.transport in _NOTIFY_TRANSPORTS:
            if size is None:
                reason = _unbounded_reason(site)
                yield rule.at_site(
                    ctx,
                    site,
                    f"{site.transport} payload has no worst-case bound ({reason}); at 8000 bytes "
                    f"pg_notify raises 'payload string too long' and the write that fired the trigger is lost: "
                    f"{_headroom(site)}",
                )
            elif size > NOTIFY_PAYLOAD_LIMIT:
                yield rule.at_site(
                    ctx,
                    site,
                    f"{site.transport} payload can reach {size} bytes (limit {NOTIFY_PAYLOAD_LIMIT}); "
                    "the error aborts the write that fired the trigger",
                )
        elif size is None:
            reason = _unbounded_reason(site)
            yield rule.at_site(
                ctx,
                site,
                f"{site.transport} payload has no worst-case bound ({reason}); the server silently "
                f"drops messages over the plan's payload limit ({REALTIME_PAYLOAD_LIMIT // 1024} KB on Free)",
                severity=Severity.NOTE,
            )
        elif size > REALTIME_PAYLOAD_LIMIT:
            yield rule.at_site(
                ctx,
                site,
                f"{site.transport} payload can reach {size} bytes; the server drops messages over "
                f"{REALTIME_PAYLOAD_LIMIT // 1024} KB on the Free plan without telling the database",
                severity=Severity.WARNING,
            )


def _channel_too_long(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    for site in ctx.sites():
        if site.transport not in _NOTIFY_TRANSPORTS:
            continue
        size = site.channel.max_bytes
        severity = Severity.ERROR if site.transport == "pg_notify" else Severity.WARNING
        consequence = (
            "pg_notify raises 'channel name too long' and the write that fired the trigger is lost"
            if site.transport == "pg_notify"
            else "NOTIFY truncates the identifier to 63 bytes, so listeners of the full name hear nothing"
        )
        if size is None:
            unbounded = [h for h in site.channel.holes if h.max_bytes is None]
            names = ", ".join(str(h) for h in unbounded)
            if not any(h.traced for h in unbounded):
                yield rule.at_site(
                    ctx,
                    site,
                    f"channel '{site.channel}': the length of {names} is unknown (the analysis could not follow "
                    f"it); past {CHANNEL_LIMIT} bytes {consequence}",
                    severity=Severity.NOTE,
                )
                continue
            yield rule.at_site(
                ctx,
                site,
                f"channel '{site.channel}' has no length bound ({names} unbounded); "
                f"past {CHANNEL_LIMIT} bytes {consequence}",
                severity=severity,
            )
        elif size > CHANNEL_LIMIT:
            yield rule.at_site(
                ctx,
                site,
                f"channel '{site.channel}' can be {size} bytes (limit {CHANNEL_LIMIT}); {consequence}",
                severity=severity,
            )


def _lookup_keys(ctx: RuleContext, site: NotifySite, table: str) -> list[str]:
    """Columns of the trigger tables that are NOT NULL foreign keys to ``table``."""
    keys = []
    for table_name in site.tables:
        trigger_table = ctx.catalog.tables.get(table_name)
        for column in trigger_table.columns if trigger_table else ():
            if column.references is not None and column.references[0] == table and column.not_null:
                keys.append(f"{table_name}.{column.name}")
    return keys


def _looked_up_holes(ctx: RuleContext, site: NotifySite) -> Iterator[tuple[str, list[str]]]:
    """Non-NULL holes filled by a lookup in another table, with the foreign keys that keep them non-NULL."""
    for hole in site.channel.holes:
        if hole.nullable or not hole.sources or hole.guarded:
            continue
        for source in hole.sources:
            if source.table in site.tables:
                continue
            keys = _lookup_keys(ctx, site, source.table)
            if keys:
                yield str(source), keys


def _channel_from_nullable(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    for site in ctx.sites():
        medium = _medium(site)
        for source, keys in _looked_up_holes(ctx, site):
            yield rule.at_site(
                ctx,
                site,
                f"{medium} '{site.channel}' takes {source} from a lookup that finds its row only because "
                f"{' and '.join(keys)} is a NOT NULL foreign key; if that key is dropped or deferred, the "
                f"lookup can find nothing and the {medium} becomes "
                f"'{site.channel.literal_prefix}' (CONCAT) or NULL ('||')",
                severity=Severity.NOTE,
                explanation="take the value from the row itself (add it to the table), or skip the send when the "
                "lookup finds nothing (IF NOT FOUND THEN RETURN NULL in an AFTER trigger): which one depends on "
                "whether a message without that value is wanted, so no patch is offered",
            )
        nullable = [hole for hole in site.channel.holes if hole.nullable and hole.nullability_known]
        if not nullable:
            continue
        names = ", ".join(str(h) for h in nullable)
        builder = site.channel_builder
        medium = _medium(site)
        prefix = site.channel.literal_prefix
        if builder in {"||", "other"}:
            if site.transport == "pg_notify":
                yield rule.at_site(
                    ctx,
                    site,
                    f"{medium} '{site.channel}' is NULL when {names} is NULL ('||' with NULL is NULL): "
                    "pg_notify raises 'channel name cannot be empty' and the write is lost",
                    severity=Severity.ERROR,
                )
            else:
                yield rule.at_site(
                    ctx,
                    site,
                    f"{medium} '{site.channel}' is NULL when {names} is NULL: the send fails inside, "
                    "only a WARNING is logged and the message is lost",
                    severity=Severity.WARNING,
                )
        else:
            yield rule.at_site(
                ctx,
                site,
                f"{medium} '{site.channel}' is built from {names}, which can be NULL: CONCAT/format "
                f"drop the NULL and the message goes to '{prefix}', a {medium} no subscriber expects",
                severity=Severity.WARNING,
            )


def _sensitive_public(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    for site in ctx.sites():
        if not is_public(site) or not site.payload or ctx.listened_privately(site):
            continue
        for field in site.payload:
            columns = [str(s) for s in field.sources if ctx.config.is_sensitive_column(s.table, s.column)]
            if columns or ctx.config.is_sensitive_key(field.key):
                what = f" (from {', '.join(columns)})" if columns else ""
                yield rule.at_site(
                    ctx,
                    site,
                    f"payload key '{field.key}'{what} is personal data on public {_medium(site)} "
                    f"'{site.channel}': anyone who knows or guesses the name receives it",
                )


def _restricted_public(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    if not ctx.config.restricted_tables:
        sites = [site for site in ctx.sites() if is_public(site) and site.tables]
        yield from _unconfigured(
            ctx,
            rule,
            sites,
            "restricted-tables",
            "restricted-on-public-topic reads topic names only: no "
            "restricted-tables say which tables' rows are for some roles only",
        )
    for site in ctx.sites():
        if not is_public(site) or ctx.listened_privately(site):
            continue
        reasons = []
        if ctx.config.is_restricted_topic(str(site.channel)):
            reasons.append(f"the {_medium(site)} name says it is for a restricted audience")
        tables = sorted({t for t in site.tables if ctx.config.is_restricted_table(t)})
        tables += sorted(
            {
                s.table
                for field in site.payload or ()
                for s in field.sources
                if ctx.config.is_restricted_table(s.table) and s.table not in tables
            }
        )
        if tables:
            reasons.append(f"it carries rows of {', '.join(tables)}")
        if reasons:
            how = (
                "pg_notify channels have no access control"
                if site.transport in _NOTIFY_TRANSPORTS
                else "a public Realtime channel runs no authorization"
            )
            yield rule.at_site(
                ctx,
                site,
                f"{_medium(site)} '{site.channel}' is role-restricted ({'; '.join(reasons)}) "
                f"but anyone can join it: {how}",
            )


def _pg_notify_not_delivered(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    for site in ctx.sites():
        if site.transport not in _NOTIFY_TRANSPORTS:
            continue
        transport, why = ctx.transport_decision(site)
        if transport == "supabase-realtime":
            yield rule.at_site(
                ctx,
                site,
                f"{site.transport} on '{site.channel}' never reaches Supabase Realtime subscribers: "
                f"the server has no LISTEN path, so this message is sent to nobody (judged as Realtime: {why})",
            )


def _transport_assumed(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    """One note per transport and reason: what the pg_notify sites were judged against, and why."""
    grouped: dict[tuple[str, str], list[NotifySite]] = {}
    for site in ctx.sites():
        if site.transport in _NOTIFY_TRANSPORTS:
            grouped.setdefault(ctx.transport_decision(site), []).append(site)
    for (transport, why), sites in grouped.items():
        medium = "Supabase Realtime" if transport == "supabase-realtime" else "LISTEN/NOTIFY (a database session)"
        channels = ", ".join(dict.fromkeys(f"'{site.channel}'" for site in sites))
        yield rule.at_site(
            ctx,
            sites[0],
            f"{len(sites)} pg_notify/NOTIFY site(s) on {channels} judged as delivered by {medium}: {why}",
        )


def _realtime_not_listened(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    if ctx.config.transport != "postgres":
        return
    for site in ctx.sites():
        if site.transport in _REALTIME_TRANSPORTS:
            yield rule.at_site(
                ctx,
                site,
                f"{site.transport} writes to realtime.messages, which no LISTEN client sees; "
                "the configured transport is postgres",
            )


def _realtime_send_silent(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    for site in ctx.sites():
        if site.transport not in _REALTIME_TRANSPORTS:
            continue
        builder = site.channel_builder
        if any(h.nullable and h.nullability_known for h in site.channel.holes) and builder in {"||", "other"}:
            yield rule.at_site(
                ctx,
                site,
                f"topic '{site.channel}' can be NULL; realtime.send turns the failure into a WARNING, "
                "the transaction commits and nothing is broadcast",
            )
        if _in_protected_block(ctx, site):
            yield rule.at_site(
                ctx,
                site,
                f"{site.transport} sits in a BEGIN … EXCEPTION block, but it never raises: its errors "
                "become WARNINGs, so the handler cannot see a failed broadcast",
                severity=Severity.NOTE,
            )


def _in_protected_block(ctx: RuleContext, site: NotifySite) -> bool:
    """Whether the site's statement runs inside a PL/pgSQL ``BEGIN … EXCEPTION`` block (a savepoint)."""
    return site.location.line in ctx.protected_lines(site.function)


def _notify_in_exception_block(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    for site in ctx.sites():
        if site.transport in _NOTIFY_TRANSPORTS and _in_protected_block(ctx, site):
            yield rule.at_site(
                ctx,
                site,
                f"{site.transport} on '{site.channel}' sits in a BEGIN … EXCEPTION block: when a later "
                "statement of the block fails and the handler catches it, the block's savepoint rolls back "
                "and the notification with it, while the transaction commits",
            )


_ABSENT_ON_DELETE = frozenset({"NEW"})
_ABSENT_ON_INSERT = frozenset({"OLD"})


def _event_mismatch(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    for name in sorted(ctx.catalog.functions):
        function = ctx.catalog.functions[name]
        triggers = [t for t in ctx.triggers_for(name) if t.level == "ROW"]
        if function.plpgsql is None or not triggers:
            continue
        events = frozenset(e for t in triggers for e in t.events) - {"TRUNCATE"}
        trigger_names = ", ".join(f"{t.name} ({' OR '.join(t.events)} ON {t.table})" for t in triggers)
        reported: set[tuple[str, str, str]] = set()
        # The statements reached on an operation are read from the body's graph, built only when the
        # body can name a record that is NULL on one of the triggers' events (most bodies cannot).
        absent_somewhere = (_ABSENT_ON_DELETE if "DELETE" in events else frozenset()) | (
            _ABSENT_ON_INSERT if "INSERT" in events else frozenset()
        )
        reachable = statements(function.plpgsql, events) if may_read((function.body,), absent_somewhere) else ()
        for stmt in reachable:
            # The NEW/OLD fields read, from the parse of the statement's expressions: text in a literal
            # or a comment is no read, and a read a CASE branch rules out for an operation is not made on it.
            # Only a read of a record that is NULL on an operation reaching the statement can be reported.
            absent = _ABSENT_ON_DELETE if "DELETE" in stmt.ops else frozenset()
            if "INSERT" in stmt.ops:
                absent |= _ABSENT_ON_INSERT
            for read in reads_of(stmt, absent) or ():
                if read.paired:
                    continue
                bad = "DELETE" if read.record == "NEW" else "INSERT"
                if bad not in stmt.ops or bad not in read.operations:
                    continue
                if stmt.kind == "PLpgSQL_stmt_if":
                    from bcastsim.review._logic import absent_read_matters  # the solver: see _columns_that_must_change

                    condition = stmt.sql[0] if stmt.sql else ""
                    # In an IF condition, a read only matters where TG_OP tests do not decide the outcome,
                    # and where the absent record's NULL changes whether the condition holds.
                    if bad in decided_ops(condition) or not absent_read_matters(condition, bad):
                        continue
                key = (read.record, read.column, bad)
                if key in reported:
                    continue
                reported.add(key)
                location = function.file_line(stmt.lineno)
                yield rule.finding(
                    ctx,
                    f"{read.record}.{read.column} is read on {bad} (trigger {trigger_names}), where "
                    f"{read.record} is NULL: the value is silently NULL",
                    path=location.path,
                    line=location.line,
                    function=name,
                    explanation=f"what {read.record}.{read.column} should be on {bad} is the author's choice, so "
                    f"no patch is offered: guard the read with TG_OP <> '{bad}' if nothing should happen on "
                    f"{bad}, read the other record if its value is meant, or drop {bad} from the trigger's events",
                )
        seen_ops: set[str] = set()
        for op, lineno in tg_op_literals(function.plpgsql, function.body):
            if op in ALL_OPS and op not in events and op not in seen_ops:
                seen_ops.add(op)
                location = function.file_line(lineno)
                yield rule.finding(
                    ctx,
                    f"the function handles TG_OP = '{op}' but no trigger fires it on {op} "
                    f"({trigger_names}): that branch never runs",
                    path=location.path,
                    line=location.line,
                    function=name,
                    severity=Severity.NOTE,
                    explanation=f"add {op} to the trigger's events if the branch is meant to run, or remove the "
                    "branch: which one is meant cannot be read from the code, so no patch is offered",
                )


def _statement_row_ref(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    for name in sorted(ctx.catalog.functions):
        function = ctx.catalog.functions[name]
        triggers = [t for t in ctx.triggers_for(name) if t.level == "STATEMENT"]
        if function.plpgsql is None or not triggers:
            continue
        for stmt in statements(function.plpgsql, reads=True):
            refs = list(stmt.reads or ())
            if refs:
                location = function.file_line(stmt.lineno)
                yield rule.finding(
                    ctx,
                    f"{refs[0].record}.{refs[0].column} is read but trigger {triggers[0].name} is "
                    "FOR EACH STATEMENT: NEW and OLD are NULL there",
                    path=location.path,
                    line=location.line,
                    function=name,
                )
                break


def _before_returns_null(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    for name in sorted(ctx.catalog.functions):
        function = ctx.catalog.functions[name]
        triggers = [t for t in ctx.triggers_for(name) if t.level == "ROW" and t.timing == "BEFORE"]
        if function.plpgsql is None or not triggers:
            continue
        events = frozenset(e for t in triggers for e in t.events)
        for stmt in statements(function.plpgsql, events):
            if stmt.kind != "PLpgSQL_stmt_return" or not stmt.sql:
                continue
            value = stmt.sql[0].strip().upper()
            skipped: frozenset[str] = frozenset()
            if value == "NEW":
                skipped = stmt.ops & {"DELETE"}
            elif value == "OLD":
                skipped = stmt.ops & {"INSERT"}
            elif value == "NULL":
                skipped = stmt.ops & {"INSERT", "UPDATE", "DELETE"}
            if skipped:
                location = function.file_line(stmt.lineno)
                ops = " and ".join(sorted(skipped))
                # What keeps the row on every operation that reaches this RETURN (not only the skipped
                # ones): OLD where only DELETE reaches, NEW where DELETE does not, else COALESCE(NEW, OLD),
                # which is NEW on INSERT and UPDATE and OLD on DELETE.
                reaching = stmt.ops & {"INSERT", "UPDATE", "DELETE"}
                keep = "OLD" if reaching == {"DELETE"} else "NEW" if "DELETE" not in reaching else "COALESCE(NEW, OLD)"
                summary = f"RETURN {keep} at line {location.line}, which {', '.join(sorted(reaching))} reach"
                patch = replace_text(
                    location.path,
                    (location.line, location.line),
                    re.compile(r"\bRETURN\s+" + re.escape(stmt.sql[0].strip()) + r"\s*;", re.IGNORECASE),
                    f"RETURN {keep};",
                    summary,
                    count=1,
                )
                yield rule.finding(
                    ctx,
                    f"BEFORE trigger returns {value.lower()} on {ops} ({triggers[0].name}): "
                    f"that is NULL, so PostgreSQL silently skips the {ops.lower()} of the row",
                    path=location.path,
                    line=location.line,
                    function=name,
                    patch=patch,
                    explanation=f"{summary}, so the row is written",
                )


def _after_return_ignored(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    for name in sorted(ctx.catalog.functions):
        function = ctx.catalog.functions[name]
        triggers = ctx.triggers_for(name)
        if function.plpgsql is None or not triggers or any(t.timing != "AFTER" for t in triggers):
            continue
        if "null" not in function.body.lower():
            continue  # no RETURN NULL to report, and no graph to build for it
        returns = [s for s in statements(function.plpgsql) if s.kind == "PLpgSQL_stmt_return" and s.sql]
        values = {re.sub(r"\s+", " ", s.sql[0].strip().upper()) for s in returns}
        if "NULL" not in values or len(values) < 2:
            continue
        first_null = next(s for s in returns if re.sub(r"\s+", " ", s.sql[0].strip().upper()) == "NULL")
        location = function.file_line(first_null.lineno)
        yield rule.finding(
            ctx,
            f"{name} returns NULL on some paths and {', '.join(sorted(values - {'NULL'}))} on others, but it "
            f"only runs AFTER the write ({triggers[0].name}): the return value is ignored and NULL does not "
            "undo or skip anything",
            path=location.path,
            line=location.line,
            function=name,
            patch=_returns_null_patch(function, returns),
        )


def _returns_null_patch(function: Function, returns: list[Statement]) -> Patch | None:
    """Every RETURN of an AFTER trigger function made RETURN NULL: what runs is unchanged, and nothing
    suggests a return value matters. None unless each such RETURN sits on one line of one file."""
    others = [s for s in returns if re.sub(r"\s+", " ", s.sql[0].strip().upper()) != "NULL"]
    locations = [function.file_line(s.lineno) for s in others]
    if not locations or len({loc.path for loc in locations}) != 1:
        return None
    lines = sorted({loc.line for loc in locations})
    pattern = re.compile(
        r"\bRETURN\s+(?!NULL\b)(" + "|".join(re.escape(s.sql[0].strip()) for s in others) + r")\s*;", re.IGNORECASE
    )
    where = f"line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))}"
    summary = f"RETURN NULL at {where}: an AFTER trigger's return value is ignored"
    # One replace over the span of the lines, then checked to have changed exactly those lines.
    patch = replace_text(locations[0].path, (lines[0], lines[-1]), pattern, "RETURN NULL;", summary)
    if patch is None or [h.first + i for h in hunks(patch.diff) for i in range(h.removed)] != lines:
        return None
    return patch


_TIME_KEY = re.compile(r"^(timestamp|time|ts|event_time|event_at|sent_at|occurred_at|at|changed_at)$", re.I)
_TX_TIME = re.compile(r"^\s*(now\s*\(\s*\)|current_timestamp|transaction_timestamp\s*\(\s*\)|localtimestamp)", re.I)
_STMT_TIME = re.compile(r"^\s*statement_timestamp\s*\(\s*\)", re.I)
_CREATED = re.compile(r"^(created_at|inserted_at|created|creation_time|created_on)$", re.I)


def _timestamp_semantics(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    for site in ctx.sites():
        for field in site.payload or ():
            expression = field.expression_sql.strip()
            if _TIME_KEY.match(field.key) and _TX_TIME.match(expression):
                yield rule.at_site(
                    ctx,
                    site,
                    f"'{field.key}' is {expression}: the transaction's start time, the same for every "
                    "message the transaction sends and possibly long before the change commits",
                    patch=_clock_patch(site, field.key, expression),
                    explanation="use clock_timestamp() for when the change happened, or name the key "
                    "transaction_started_at if the transaction start is meant",
                )
            elif _TIME_KEY.match(field.key) and _STMT_TIME.match(expression):
                yield rule.at_site(
                    ctx,
                    site,
                    f"'{field.key}' is statement_timestamp(): the start of the statement, not of this row's change",
                    severity=Severity.NOTE,
                )
            elif _TIME_KEY.match(field.key) and any(_CREATED.match(s.column) for s in field.sources):
                later = [op for op in site.operations if op in {"UPDATE", "DELETE"}]
                if later:
                    columns = ", ".join(str(s) for s in field.sources)
                    yield rule.at_site(
                        ctx,
                        site,
                        f"'{field.key}' is {columns}, but the message is also sent on "
                        f"{' and '.join(later)}: then it is when the row was created, not when this happened",
                        explanation="send clock_timestamp() as the event time, and the creation time under its "
                        "own key: renaming a key changes what clients read, so no patch is offered",
                    )


# How far past the send call's first line its arguments are looked for.
_CALL_LINES = 40


def _clock_patch(site: NotifySite, key: str, expression: str) -> Patch | None:
    """The payload's ``'key', now()`` made ``'key', clock_timestamp()``, in the send call's lines."""
    path, line = site.location.path, site.location.line
    lines = source_lines(path)
    if lines is None:
        return None
    pattern = re.compile(r"('" + re.escape(key) + r"'\s*,\s*)" + re.escape(expression), re.IGNORECASE)
    return replace_text(
        path,
        (line, min(len(lines), line + _CALL_LINES)),
        pattern,
        lambda match: match.group(1) + "clock_timestamp()",
        f"send clock_timestamp() as '{key}', the time the change was made",
        count=1,
    )


_TZ_CLOCKS = frozenset({"now", "transaction_timestamp", "statement_timestamp", "clock_timestamp"})
_COMPARE = frozenset({"<", "<=", ">", ">=", "=", "<>", "!="})


# Text every timestamptz clock's call contains (now, current_timestamp, *_timestamp): a statement
# without it is not parsed again.
_MAY_READ_A_CLOCK = re.compile(r"now|timestamp", re.IGNORECASE)


def _is_tz_clock(node: Any) -> bool:
    """now(), CURRENT_TIMESTAMP and the other clocks that give a timestamptz."""
    while isinstance(node, ast.TypeCast) and node.typeName is not None:
        names = [n.sval for n in node.typeName.names or () if isinstance(n, ast.String)]
        if names and names[-1] not in ("timestamptz",):
            return False
        node = node.arg
    if isinstance(node, ast.SQLValueFunction):
        return node.op == SQLValueFunctionOp.SVFOP_CURRENT_TIMESTAMP
    if isinstance(node, ast.FuncCall):
        called = [str(n.sval or "") for n in node.funcname or () if isinstance(n, ast.String)]
        return bool(called) and called[-1].lower() in _TZ_CLOCKS and not node.args
    return False


def _row_column(node: Any) -> tuple[str, str] | None:
    if isinstance(node, ast.ColumnRef):
        fields = [f.sval for f in node.fields or () if isinstance(f, ast.String)]
        if len(fields) == 2 and str(fields[0]).lower() in ("new", "old"):
            return str(fields[0]).upper(), str(fields[1]).lower()
    return None


def _zone_comparisons(sql: str) -> Iterator[tuple[str, str, str]]:
    """(record, column, clock text) for each comparison of NEW/OLD.column with a timestamptz clock in ``sql``."""
    try:
        tree: Any = pglast.parse_sql(
            sql if re.match(r"\s*(select|insert|update|delete|with)\b", sql, re.I) else f"SELECT {sql}"
        )
    except Exception:  # PL/pgSQL-only syntax: nothing read here
        return
    stack: list[Any] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.A_Expr) and node.kind == A_Expr_Kind.AEXPR_OP:
            operator = "".join(n.sval or "" for n in node.name or () if isinstance(n, ast.String))
            for column, clock in ((node.lexpr, node.rexpr), (node.rexpr, node.lexpr)):
                ref = _row_column(column)
                if operator in _COMPARE and ref is not None and isinstance(clock, ast.Node) and _is_tz_clock(clock):
                    yield ref[0], ref[1], str(RawStream()(clock))
        if isinstance(node, ast.Node):
            stack.extend(getattr(node, slot, None) for slot in getattr(type(node), "__slots__", ()))
        elif isinstance(node, tuple | list):
            stack.extend(node)


def _session_zone_comparisons(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    """A timestamp (without time zone) column compared with now(): the result depends on the session's TimeZone."""
    for name in sorted(ctx.catalog.functions):
        function = ctx.catalog.functions[name]
        triggers = [t for t in ctx.triggers_for(name) if t.level == "ROW"]
        if function.plpgsql is None or not triggers:
            continue
        types: dict[str, str] = {}
        for trigger in triggers:
            table = ctx.catalog.tables.get(trigger.table)
            for defined in table.columns if table is not None else ():
                types.setdefault(defined.name, defined.type_name)
        if "timestamp" not in types.values():
            continue  # no column the rule is about: parsing the body's statements again would find nothing
        reported: set[tuple[str, str]] = set()
        for stmt in statements(function.plpgsql):
            if not stmt.ops:
                continue
            for sql in stmt.sql:
                if not _MAY_READ_A_CLOCK.search(sql):
                    continue  # a cheap filter only: whether a clock is compared is read from the parse tree
                for record, column, clock in _zone_comparisons(sql):
                    if types.get(column) != "timestamp" or (record, column) in reported:
                        continue
                    reported.add((record, column))
                    location = function.file_line(stmt.lineno)
                    yield rule.finding(
                        ctx,
                        f"{record}.{column} is timestamp without time zone, compared with {clock} (timestamptz): "
                        f"PostgreSQL reads {record}.{column} in the session's TimeZone, so whether the condition "
                        "holds, and the message is sent, depends on the time zone of whoever writes the row",
                        path=location.path,
                        line=location.line,
                        function=name,
                        explanation=f"make {column} timestamptz, or compare in the zone it is stored in "
                        f"({record}.{column} AT TIME ZONE 'UTC' against {clock} if that zone is UTC): the zone is "
                        "not in the inputs, so no patch is offered",
                    )


def _security_definer(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    for name in sorted(ctx.catalog.functions):
        function = ctx.catalog.functions[name]
        if not function.security_definer:
            continue
        if function.search_path is None and function.search_path_unknown is not None:
            yield rule.finding(
                ctx,
                f"{name} is SECURITY DEFINER and its search_path is not known: {function.search_path_unknown}",
                path=function.location.path,
                line=function.location.line,
                function=name,
                severity=Severity.NOTE,
                explanation="check that the loop reaches this function, or pin it on the function: "
                "ALTER FUNCTION … SET search_path = pg_catalog, public",
            )
        elif function.search_path is None:
            patch, alter = _pin_search_path(name, function)
            yield rule.finding(
                ctx,
                f"{name} is SECURITY DEFINER without SET search_path: a caller who can create objects "
                "in a schema on their search_path can make it run their code with the owner's rights",
                path=function.location.path,
                line=function.location.line,
                function=name,
                patch=patch,
                explanation=f"pin it after the function: {alter}",
            )
        else:
            parts = [p.strip().strip('"').lower() for p in function.search_path.split(",")]
            if "pg_temp" in parts[:-1] or "$user" in parts:
                yield rule.finding(
                    ctx,
                    f"{name} is SECURITY DEFINER with search_path '{function.search_path}': "
                    "pg_temp before the end, or $user, lets callers shadow names",
                    path=function.location.path,
                    line=function.location.line,
                    function=name,
                    severity=Severity.WARNING,
                    patch=_pin_search_path(name, function)[0],
                )


def _pin_search_path(name: str, function: Function) -> tuple[Patch | None, str]:
    """``ALTER FUNCTION … SET search_path = pg_catalog, <schema>, public, pg_temp`` after the function's
    statement (pg_temp last: a caller's temporary objects cannot shadow names), as a patch, and the SQL."""
    schema = name.rsplit(".", 1)[0] if "." in name else "public"
    paths = ", ".join(dict.fromkeys(("pg_catalog", schema, "public", "pg_temp")))
    alter = f"ALTER FUNCTION {name}({', '.join(function.signature)}) SET search_path = {paths};"
    end = _statement_end(function.location.path, function.location.line)
    if end is None:
        return None, alter
    return insert_after(function.location.path, end, [alter], f"pin the search_path after the function: {alter}"), alter


def _exception_swallowed(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    for name in sorted(ctx.catalog.functions):
        # realtime.* stands in for the platform's own functions, whose behaviour is a given.
        if name.startswith("realtime."):
            continue
        function = ctx.catalog.functions[name]
        if function.plpgsql is None:
            continue
        if "exception" not in function.body.lower():
            continue  # a handler is spelt EXCEPTION WHEN …: a body without the word has none to walk for
        sites = ctx.sites_by_function.get(name, ())
        for handler in exception_handlers(function.plpgsql):
            if "others" not in handler.conditions or handler.reraises or handler.logs:
                continue
            first = function.file_line(handler.block_lines[0]).line
            last = function.file_line(handler.block_lines[1]).line
            hidden = [
                site for site in sites if site.transport in _NOTIFY_TRANSPORTS and first <= site.location.line <= last
            ]
            if not hidden:
                continue  # no send of its own fails into this handler: what it hides is not a lost message
            location = function.file_line(handler.lineno)
            yield rule.finding(
                ctx,
                f"EXCEPTION WHEN OTHERS in {name} neither re-raises nor logs: when {hidden[0].transport} on "
                f"'{hidden[0].channel}' (line {hidden[0].location.line}) fails, the message is lost and the "
                "transaction commits with no trace of it",
                path=location.path,
                line=location.line,
                function=name,
                patch=_log_patch(location.path, location.line),
                explanation="log it where someone reads it (RAISE WARNING 'notify failed: %', SQLERRM;), or re-raise "
                "with RAISE; if the write must not commit without its message",
            )


def _log_patch(path: str, line: int) -> Patch | None:
    """Insert ``RAISE WARNING … SQLERRM`` as the handler's first statement, at that statement's indentation.

    The send's failure is then in the server log; the handler still lets the write commit, as it meant to.
    """
    lines = source_lines(path)
    if lines is None or not 1 <= line <= len(lines):
        return None
    statement = f"{indentation(lines[line - 1])}RAISE WARNING 'notify failed: %', SQLERRM;"
    return insert_after(path, line - 1, [statement], "log the failed send in the handler: RAISE WARNING … SQLERRM")


def _unconfigured(ctx: RuleContext, rule: Rule, sites: list[NotifySite], key: str, message: str) -> Iterator[Finding]:
    """The one note, at the first site it would look at, of a rule waiting for the project's table names."""
    if sites:
        yield rule.at_site(
            ctx,
            sites[0],
            message,
            severity=Severity.NOTE,
            explanation=f'set {key} = ["table", ...] in [tool.bcastsim] (pyproject.toml or bcastsim.toml)',
        )


def _hot_table_notify(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    if not ctx.config.hot_tables:
        sites = [site for site in ctx.sites() if site.transport in _NOTIFY_TRANSPORTS and site.tables]
        yield from _unconfigured(
            ctx,
            rule,
            sites,
            "hot-tables",
            "hot-table-notify is off: no hot-tables say which tables are written in bursts by many users at once",
        )
        return
    seen: set[tuple[str, str]] = set()
    for site in ctx.sites():
        if site.transport not in _NOTIFY_TRANSPORTS:
            continue
        for table in site.tables:
            if not ctx.config.is_hot_table(table) or (table, site.function) in seen:
                continue
            seen.add((table, site.function))
            yield rule.at_site(
                ctx,
                site,
                f"{site.transport} from a trigger on hot table {table}: every notifying transaction holds "
                "a cluster-wide lock from pre-commit to commit, so a burst of writes commits one at a time",
            )


def _notify_before_write(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    for site in ctx.sites():
        # Only a row can be changed or skipped by a later BEFORE trigger.
        befores = [
            t
            for t in ctx.triggers_for(site.function)
            if t.timing == "BEFORE" and t.level == "ROW" and t.table in site.tables
        ]
        if befores:
            yield rule.at_site(
                ctx,
                site,
                f"message sent from BEFORE trigger {befores[0].name}: a later BEFORE trigger can still "
                "change or skip the row, so the message may describe a write that never happened",
            )


def _duplicate_collapse(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    for site in ctx.sites():
        if site.transport not in _NOTIFY_TRANSPORTS or site.payload is None:
            continue
        for table_name in site.tables:
            table = ctx.catalog.tables.get(table_name)
            if table is None or not table.primary_key:
                continue
            row_level = any(t.level == "ROW" and t.table == table_name for t in ctx.triggers_for(site.function))
            if not row_level:
                continue
            carries_key = all(
                any(s.table == table_name and s.column == pk for f in site.payload for s in f.sources)
                for pk in table.primary_key
            )
            if not carries_key:
                yield rule.at_site(
                    ctx,
                    site,
                    f"payload on '{site.channel}' does not carry {table_name}'s primary key "
                    f"({', '.join(table.primary_key)}): two {table_name} rows with equal values in one "
                    "transaction produce byte-identical notifications, and PostgreSQL delivers only the first",
                    patch=_key_patch(site, table.primary_key) if set(site.tables) == {table_name} else None,
                )


_BUILD_OBJECT = re.compile(r"\bjsonb?_build_object\s*\(", re.IGNORECASE)


def _key_patch(site: NotifySite, primary_key: tuple[str, ...]) -> Patch | None:
    """The row's primary key added as the first pair of the payload's ``json(b)_build_object``.

    Only where the payload is one such call inside the send's parentheses and no key of it has the
    column's name. The key is read from NEW, from OLD where only DELETE sends, and from
    ``COALESCE(NEW.k, OLD.k)`` where DELETE and another operation do (a key is never NULL).
    """
    if site.payload_format not in {"json", "jsonb"} or any(f.key in primary_key for f in site.payload or ()):
        return None
    path, line = site.location.path, site.location.line
    close = call_close(path, line, site.transport)
    lines = source_lines(path)
    if close is None or lines is None:
        return None
    text = "".join(lines)
    start = sum(len(item) for item in lines[: line - 1])
    builds = list(_BUILD_OBJECT.finditer(masked(text[:close]), start))
    if len(builds) != 1:
        return None
    operations = set(site.operations or ALL_OPS) & {"INSERT", "UPDATE", "DELETE"}

    def read(column: str) -> str:
        if operations == {"DELETE"}:
            return f"OLD.{_quote(column)}"
        if "DELETE" not in operations:
            return f"NEW.{_quote(column)}"
        return f"COALESCE(NEW.{_quote(column)}, OLD.{_quote(column)})"

    pairs = "".join(f"'{column}', {read(column)}, " for column in primary_key)
    at = builds[0].end()
    if text[at : at + 1] in ("\n", "\r"):
        pairs = pairs.rstrip()  # the arguments start on the next line: no trailing blank
    return edit_span(path, [(at, at, pairs)], f"send the primary key ({', '.join(primary_key)}) in the payload")


def _update_any_column(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    sites_by_function: dict[str, list[NotifySite]] = {}
    for site in ctx.sites():
        sites_by_function.setdefault(site.function, []).append(site)
    for key in sorted(ctx.catalog.triggers):
        trigger = ctx.catalog.triggers[key]
        if not trigger.enabled or "UPDATE" not in trigger.events or trigger.update_columns or trigger.when_sql:
            continue
        sites = [s for s in sites_by_function.get(trigger.function, []) if "UPDATE" in (s.operations or ALL_OPS)]
        if not sites:
            continue
        columns: list[str] = []
        unguarded = False
        for site in sites:
            found = _columns_that_must_change(site)
            if not found:
                unguarded = True
            columns += found
        if unguarded:
            yield rule.finding(
                ctx,
                f"trigger {trigger.name} notifies on every UPDATE of {trigger.table}, even one that changes "
                "nothing a subscriber sees",
                path=trigger.location.path,
                line=trigger.location.line,
                function=trigger.function,
                **_narrower_trigger(ctx, trigger, ()),
            )
        else:
            listed = ", ".join(dict.fromkeys(columns))
            yield rule.finding(
                ctx,
                f"trigger {trigger.name} runs its function on every UPDATE of {trigger.table}, but only "
                f"changes of {listed} send anything",
                path=trigger.location.path,
                line=trigger.location.line,
                function=trigger.function,
                **_narrower_trigger(ctx, trigger, tuple(dict.fromkeys(columns))),
            )


def _columns_that_must_change(site: NotifySite) -> list[str]:
    """Columns of which at least one must change for the site to send on UPDATE, decided by the solver.

    The candidates are the NEW/OLD columns its UPDATE conditions read; they qualify when no row makes
    the conditions true while every one of them keeps its value. Empty: the site can send on an update
    that changes none of them.
    """
    conditions = dict(site.emitted_when).get("UPDATE")
    if not conditions:
        return []
    candidates = list(dict.fromkeys(ref.column for text in conditions for ref in expression_reads(text) or ()))
    if not candidates:
        return []

    # The solver (z3, some 8 MiB) is imported by the first question asked of it: most inputs ask none.
    from bcastsim.review._logic import escape

    def implied(columns: list[str]) -> bool:
        changed = " OR ".join(f"NEW.{_quote(c)} IS DISTINCT FROM OLD.{_quote(c)}" for c in columns)
        return bool(columns) and escape(conditions, (changed,), "UPDATE") is None

    if not implied(candidates):
        return []
    # Drop the columns the implication does not need (a test of NEW.priority > 2 beside a change of status).
    for column in list(candidates):
        rest = [c for c in candidates if c != column]
        if implied(rest):
            candidates = rest
    return candidates


def _quote(name: str) -> str:
    return ".".join(part if re.fullmatch(r"[a-z_][a-z0-9_]*", part) else f'"{part}"' for part in name.split("."))


# Types without an equality operator: a row holding one cannot be compared with IS DISTINCT FROM.
_NO_EQUALITY = frozenset({"json", "xml", "point", "line", "lseg", "box", "path", "polygon", "circle"})


def _narrower_trigger(ctx: RuleContext, trigger: Trigger, columns: tuple[str, ...]) -> dict[str, Any]:
    """The trigger re-declared to skip updates no subscriber sees: a patch, or else why there is none.

    With ``columns`` (at least one of them must change for any message to be sent, decided by the
    solver) the UPDATE becomes ``UPDATE OF`` them: every message sent before is still sent. Without,
    an UPDATE-only row trigger gets ``WHEN (OLD.* IS DISTINCT FROM NEW.*)``, which skips only updates
    that change nothing. A trigger that also fires on INSERT or DELETE cannot have that WHEN (it would
    read OLD on INSERT), and narrowing it to the payload's columns would silence updates of the other
    columns a page may rely on: no patch then. ``UPDATE OF`` is not offered either when another BEFORE
    trigger on the table may change a listed column, since UPDATE OF looks only at the command's SET list.
    """
    table = ctx.catalog.tables.get(trigger.table)
    if table is not None and columns and set(columns) >= {c.name for c in table.columns}:
        columns = ()  # UPDATE OF every column is every update: it would change nothing
    when = ""
    if columns:
        befores = list(ctx.update_befores.get(trigger.table, ()))
        if befores:
            return {
                "explanation": f"declare UPDATE OF {', '.join(columns)} only if no BEFORE trigger "
                f"({', '.join(sorted(befores))}) changes those columns: UPDATE OF sees only the UPDATE's SET list"
            }
    elif trigger.events == ("UPDATE",) and trigger.level == "ROW":
        if table is None or any(c.type_name in _NO_EQUALITY for c in table.columns):
            return {
                "explanation": "add WHEN (OLD.* IS DISTINCT FROM NEW.*) once every column of the table can be "
                "compared (json, xml and geometric columns have no equality operator)"
            }
        when = " WHEN (OLD.* IS DISTINCT FROM NEW.*)"
    else:
        return {
            "explanation": "move UPDATE into its own trigger declared AFTER UPDATE … FOR EACH ROW WHEN (OLD.* IS "
            "DISTINCT FROM NEW.*) (a WHEN clause that reads OLD is not allowed on an INSERT trigger); narrowing "
            "it to the payload's columns instead would silence updates of other columns a page may rely on"
        }
    summary = (
        f"fire {trigger.name} on UPDATE OF {', '.join(columns)} only"
        if columns
        else f"skip {trigger.name} on updates that change nothing"
    )
    patch = _narrow_in_place(trigger, columns, when, summary)
    if patch is not None:
        return {"patch": patch}
    events = [
        f"UPDATE OF {', '.join(_quote(c) for c in columns)}" if e == "UPDATE" and columns else e for e in trigger.events
    ]
    arguments = ", ".join("'" + a.replace("'", "''") + "'" for a in trigger.arguments)
    return {
        "explanation": f"re-declare the trigger: CREATE OR REPLACE TRIGGER {_quote(trigger.name)} {trigger.timing} "
        f"{' OR '.join(events)} ON {_quote(trigger.table)} FOR EACH {trigger.level}{when} "
        f"EXECUTE FUNCTION {_quote(trigger.function)}({arguments});"
    }


_TIMING = re.compile(r"\b(?:BEFORE|AFTER|INSTEAD\s+OF)\s", re.IGNORECASE)
_CREATE_TRIGGER = re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?TRIGGER\s", re.IGNORECASE)


def _narrow_in_place(trigger: Trigger, columns: tuple[str, ...], when: str, summary: str) -> Patch | None:
    """The trigger's own CREATE TRIGGER edited in place: ``UPDATE`` → ``UPDATE OF columns`` in its events,
    or ``WHEN (…)`` on a line of its own before ``EXECUTE``; its layout and comments kept. None where the
    statement is not found as one plain CREATE TRIGGER of a readable file."""
    path = trigger.location.path
    span = statement_at(path, trigger.location.line)
    source = masked_source(path)
    if span is None or source is None:
        return None
    # The whole file's masking, searched within the span: the statement's span ends before its ';', so no
    # comment or literal is cut at its end, and the prefix's masking would be the same there (copying the
    # file's text and its masking for each trigger made patch building grow with findings × file size).
    code = source[1]
    if not _CREATE_TRIGGER.match(code, span[0]):
        return None
    timing = _TIMING.search(code, span[0], span[1])
    on = re.compile(r"\sON\s", re.IGNORECASE).search(code, timing.end(), span[1]) if timing else None
    if timing is None or on is None:
        return None
    if columns:
        updates = list(re.compile(r"\bUPDATE\b", re.IGNORECASE).finditer(code, timing.end(), on.start()))
        if len(updates) != 1:
            return None
        listed = ", ".join(_quote(c) for c in columns)
        return edit_span(path, [(updates[0].end(), updates[0].end(), f" OF {listed}")], summary)
    execute = re.compile(r"\bEXECUTE\s+(?:FUNCTION|PROCEDURE)\b", re.IGNORECASE).search(code, on.end(), span[1])
    if execute is None or re.search(r"\bWHEN\b", code[on.end() : execute.start()], re.IGNORECASE):
        return None
    line_start = code.rfind("\n", 0, execute.start()) + 1
    before = code[line_start : execute.start()]
    if before.strip():  # EXECUTE mid-line: the WHEN goes on the same line
        return edit_span(path, [(execute.start(), execute.start(), f"{when.strip()} ")], summary)
    return edit_span(path, [(line_start, line_start, f"{before}{when.strip()}\n")], summary)


def _private_default(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    for site in ctx.sites():
        if site.transport == "realtime.send" and not site.private_given:
            yield rule.at_site(
                ctx,
                site,
                f"realtime.send to '{site.channel}' leaves 'private' to its default (true): subscribers must "
                "join with { config: { private: true } } and pass an RLS policy, while realtime-js joins "
                "public channels by default",
                patch=_private_patch(site),
            )


def _private_patch(site: NotifySite) -> Patch | None:
    """``private => true`` written into the call: the default made visible, so every message stays the same."""
    path = site.location.path
    close = call_close(path, site.location.line, "realtime.send")
    lines = source_lines(path)
    if close is None or lines is None:
        return None
    text = "".join(lines)
    before = text[:close].rstrip()
    if "--" in before.rsplit("\n", 1)[-1]:
        return None  # the last argument's line ends in a comment: text after it would be commented out
    # After the last argument (a trailing newline and indentation kept as they are).
    at = len(before)
    return replace_span(path, at, at, ", private => true", "pass private => true explicitly (the default, now visible)")


def _send_never_runs(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    for diagnostic in ctx.catalog.diagnostics:
        if diagnostic.code == NEVER_RUNS and not ctx.orphan(diagnostic.function):
            function = ctx.function(diagnostic.function) if diagnostic.function else None
            if function is not None and function.language == "sql":
                # PERFORM is PL/pgSQL: a LANGUAGE sql function has to read the WITH query instead.
                fix = (
                    "make the main statement read the WITH query (e.g. SELECT count(*) FROM it in a final "
                    "statement of the function), or move the send into a PL/pgSQL function (PERFORM …)"
                )
            else:
                fix = "call the send in its own statement (PERFORM realtime.send(…) / PERFORM pg_notify(…)), or make "
                fix += "the main statement read the WITH query it sits in"
            yield rule.finding(
                ctx,
                diagnostic.message,
                path=diagnostic.location.path,
                line=diagnostic.location.line,
                function=diagnostic.function,
                explanation=fix,
            )


def _unsupported(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    for diagnostic in ctx.catalog.diagnostics:
        if ctx.orphan(diagnostic.function) or diagnostic.code == NEVER_RUNS:
            continue
        yield rule.finding(
            ctx,
            f"{diagnostic.code}: {diagnostic.message}",
            path=diagnostic.location.path,
            line=diagnostic.location.line,
            function=diagnostic.function,
        )


RULES: tuple[Rule, ...] = (
    Rule(
        id="payload-too-large",
        severity=Severity.ERROR,
        title="Payload can exceed the transport's size limit",
        why="pg_notify rejects payloads of 8000 bytes or more with an error that aborts the statement "
        "that fired the trigger: the business row (a bid, a vote) is lost with the message. Realtime "
        "drops oversized messages without telling the database.",
        fix="send ids and small scalars only and let clients fetch the rest; bound text with left(x, n)",
        check=_payload_too_large,
    ),
    Rule(
        id="channel-too-long",
        severity=Severity.ERROR,
        title="Channel name can exceed 63 bytes",
        why="pg_notify raises 'channel name too long' for 64+ bytes and aborts the write; NOTIFY "
        "truncates identifiers, so listeners of the full name hear nothing.",
        fix="shorten the literal prefix or use a shorter key (an integer id) in the channel",
        check=_channel_too_long,
    ),
    Rule(
        id="channel-from-nullable",
        severity=Severity.WARNING,
        title="Channel or topic built from a value that can be NULL",
        why="CONCAT drops NULLs, so the message goes to a bare prefix topic nobody subscribes to; '||' "
        "makes the whole name NULL, which pg_notify rejects (aborting the write) and realtime.send "
        "swallows (losing the message).",
        fix="take the value from a NOT NULL column of NEW/OLD, or skip the send when it is NULL "
        "(IF v IS NULL THEN RETURN NULL; END IF; in an AFTER trigger, RETURN NEW in a BEFORE one)",
        check=_channel_from_nullable,
    ),
    Rule(
        id="sensitive-on-public-topic",
        severity=Severity.ERROR,
        title="Personal data on a topic anyone can join",
        why="Public Realtime channels and pg_notify channels run no authorization: anyone with the "
        "anonymous key (or any database session) who knows the name receives the payload.",
        fix="drop the key from the payload, or send it on a private topic guarded by an RLS policy on "
        "realtime.messages",
        check=_sensitive_public,
    ),
    Rule(
        id="restricted-on-public-topic",
        severity=Severity.ERROR,
        title="Role-restricted data on a topic anyone can join",
        why="An 'admin' topic is only a name: on a public channel any client can join it and read votes "
        "and other data meant for staff.",
        fix="send with realtime.send(..., private => true) and add an RLS policy on realtime.messages "
        "that lets only admins select that topic",
        check=_restricted_public,
    ),
    Rule(
        id="pg-notify-not-delivered",
        severity=Severity.ERROR,
        title="pg_notify used where the transport is Supabase Realtime",
        why="Supabase Realtime has no LISTEN path: pg_notify/NOTIFY messages never reach Broadcast "
        "subscribers, yet the trigger still pays for them.",
        fix="call realtime.send(payload jsonb, event, topic, private) instead, or, when the project's own "
        'worker LISTENs on the channel, say so: [tool.bcastsim.channels] "CHANNEL" = "listen"',
        check=_pg_notify_not_delivered,
    ),
    Rule(
        id="transport-assumed",
        severity=Severity.NOTE,
        title="The transport pg_notify sites were judged against, and why",
        why="Whether a pg_notify message reaches anyone depends on who consumes the channel: Supabase "
        "Realtime never LISTENs, a worker does. When nothing in the inputs or the project says which, the "
        "rules assume one; this note says which and why, so a wrong assumption is seen.",
        fix='name each channel\'s consumer in [tool.bcastsim.channels] ("supabase" or "listen"), or set transport',
        check=_transport_assumed,
    ),
    Rule(
        id="realtime-send-not-listened",
        severity=Severity.WARNING,
        title="realtime.send used where the transport is PostgreSQL LISTEN/NOTIFY",
        why="realtime.send only inserts into realtime.messages; LISTEN clients never see it.",
        fix='use pg_notify, or set transport = "supabase-realtime" in [tool.bcastsim]',
        check=_realtime_not_listened,
    ),
    Rule(
        id="realtime-send-failure-silent",
        severity=Severity.WARNING,
        title="realtime.send failures vanish as warnings",
        why="Any error inside realtime.send becomes a WARNING: the transaction commits, nothing is "
        "broadcast, and no caller or handler can tell.",
        fix="make sure the arguments cannot be NULL or invalid before the call, and watch the database "
        "log for 'ErrorSendingBroadcastMessage'",
        check=_realtime_send_silent,
    ),
    Rule(
        id="notify-rolled-back-with-block",
        severity=Severity.NOTE,
        title="Notification inside a BEGIN … EXCEPTION block",
        why="A NOTIFY is delivered only if its (sub)transaction commits: a caught error rolls back the block's "
        "savepoint and discards the notifications sent in it, though the transaction goes on and commits.",
        fix="send after the protected block (or from the handler too), so a caught error does not drop the message",
        check=_notify_in_exception_block,
    ),
    Rule(
        id="trigger-event-mismatch",
        severity=Severity.WARNING,
        title="Trigger events do not match the function's TG_OP branches or NEW/OLD use",
        why="NEW is NULL on DELETE and OLD is NULL on INSERT: reads of them silently yield NULL, and "
        "branches for operations the trigger never fires on are dead code.",
        fix="align the trigger's events with the function: guard by TG_OP or change the events",
        check=_event_mismatch,
    ),
    Rule(
        id="statement-trigger-row-reference",
        severity=Severity.WARNING,
        title="FOR EACH STATEMENT trigger reads NEW or OLD",
        why="In a statement-level trigger NEW and OLD are NULL; every value read from them is NULL.",
        fix="make the trigger FOR EACH ROW, or read the rows through REFERENCING NEW TABLE AS ...",
        check=_statement_row_ref,
    ),
    Rule(
        id="before-trigger-skips-row",
        severity=Severity.ERROR,
        title="BEFORE trigger returns NULL and skips the write",
        why="A BEFORE ROW trigger that returns NULL (RETURN NEW on DELETE, RETURN OLD on INSERT) "
        "silently cancels the operation on that row.",
        fix="RETURN COALESCE(NEW, OLD), or make the trigger AFTER when it only sends messages",
        check=_before_returns_null,
    ),
    Rule(
        id="after-trigger-return-ignored",
        severity=Severity.NOTE,
        title="AFTER trigger's return value is ignored",
        why="PostgreSQL ignores what an AFTER trigger returns: RETURN NULL there neither skips nor undoes the "
        "write, whatever the code around it seems to expect.",
        fix="RETURN NULL everywhere in AFTER triggers; to stop a write use a BEFORE trigger or a constraint",
        check=_after_return_ignored,
    ),
    Rule(
        id="timestamp-session-zone",
        severity=Severity.WARNING,
        title="timestamp column compared with now() in the session's time zone",
        why="Comparing a timestamp without time zone with now() (a timestamptz) converts the column in the "
        "session's TimeZone setting: the same row passes or fails the guard depending on who writes it, so a "
        "message is sent early, late or not at all.",
        fix="store the column as timestamptz, or compare it AT TIME ZONE the zone it is stored in",
        check=_session_zone_comparisons,
    ),
    Rule(
        id="timestamp-semantics",
        severity=Severity.WARNING,
        title="Timestamp that does not mean what its key says",
        why="now() is the transaction's start, the same for every message in it and earlier than the "
        "commit; a row's created_at sent on UPDATE is the creation time, not the event's.",
        fix="use clock_timestamp() for the event time, and send other times under keys that name them",
        check=_timestamp_semantics,
    ),
    Rule(
        id="security-definer-search-path",
        severity=Severity.ERROR,
        title="SECURITY DEFINER without a pinned search_path",
        why="A SECURITY DEFINER function resolves unqualified names through the caller's search_path: a "
        "caller who can create a same-named object earlier on the path runs code as the owner.",
        fix="add SET search_path = '' (and schema-qualify names) or SET search_path = pg_catalog, public",
        check=_security_definer,
    ),
    Rule(
        id="exception-swallowed",
        severity=Severity.WARNING,
        title="Exception handler swallows every error",
        why="WHEN OTHERS around a pg_notify that neither re-raises nor logs (RAISE LOG/WARNING, an INSERT) "
        "hides the failed send: the message is lost and nobody is told. A handler that logs is how a "
        "broadcast that must not abort the write is written, and is not reported.",
        fix="catch the specific conditions you expect, or re-raise with RAISE; after logging",
        check=_exception_swallowed,
    ),
    Rule(
        id="hot-table-notify",
        severity=Severity.WARNING,
        title="Notifying trigger on a hot table",
        why="Every transaction that called pg_notify takes a cluster-wide lock from pre-commit to commit, "
        "so notifying transactions commit one at a time; on tables written in bursts (bids near the "
        "auction close, votes at round end) this serializes the burst.",
        fix="use realtime.send (a row insert, no global lock), or notify from a batching job",
        check=_hot_table_notify,
    ),
    Rule(
        id="notify-before-write",
        severity=Severity.WARNING,
        title="Message sent from a BEFORE trigger",
        why="A later BEFORE trigger or a constraint can still change or skip the row: the message may "
        "describe values that were never stored.",
        fix="send messages from AFTER triggers",
        check=_notify_before_write,
    ),
    Rule(
        id="duplicate-collapse",
        severity=Severity.NOTE,
        title="Identical notifications in one transaction are collapsed",
        why="Since PostgreSQL 13 a notification whose channel and payload equal an earlier one in the "
        "same transaction is dropped; without the row's key in the payload, two equal rows send one message.",
        fix="include the row's primary key in the payload",
        check=_duplicate_collapse,
    ),
    Rule(
        id="update-any-column",
        severity=Severity.NOTE,
        title="Trigger fires on UPDATE of any column",
        why="A trigger without UPDATE OF or WHEN runs its function for every update of the table, even "
        "when nothing the subscribers see changed: extra work on the write path and extra messages.",
        fix="declare UPDATE OF the columns the message depends on, or (for an UPDATE-only trigger) add "
        "WHEN (OLD.* IS DISTINCT FROM NEW.*)",
        check=_update_any_column,
    ),
    Rule(
        id="realtime-private-default",
        severity=Severity.NOTE,
        title="realtime.send relies on the default private = true",
        why="realtime.send defaults to a private message, while realtime-js joins public channels unless "
        "told otherwise: a public and a private channel of one name are different channels.",
        fix="pass private => true or false explicitly and match it in the client's channel config",
        check=_private_default,
    ),
    Rule(
        id="send-never-runs",
        severity=Severity.ERROR,
        title="Send in a WITH query that never runs",
        why="PostgreSQL evaluates a SELECT in WITH only when the statement reads it: a pg_notify or "
        "realtime.send there is never called, and no message is sent.",
        fix="call the send in the main statement (PERFORM pg_notify(...)) or read the WITH query it sits in",
        check=_send_never_runs,
    ),
    Rule(
        id="unsupported-sql",
        severity=Severity.NOTE,
        title="SQL the analysis cannot follow",
        why="A construct the model does not understand may send messages or change triggers the other "
        "rules cannot see.",
        fix="review that statement by hand, or suppress this finding with a comment saying why it is safe",
        check=_unsupported,
    ),
    # Statements that need a superuser (review/_danger.py): error level, never suppressed by a comment.
    *privilege_rules(Rule),
)

_BY_ID = {rule.id: rule for rule in RULES}


def rule_catalogue() -> dict[str, RuleInfo]:
    return {rule.id: rule.info for rule in RULES}


def _project_root(catalog: Catalog, config: ReviewConfig) -> Path | None:
    """Where the project's own code is: beside its pyproject.toml, else the git checkout holding the inputs.

    The checked files come after any schema files in ``catalog.paths``: the last one decides.
    """
    if config.source:
        return Path(config.source).parent
    for shown in reversed(catalog.paths):
        if shown.startswith("<"):
            continue
        start = Path(shown).resolve()
        for candidate in (start if start.is_dir() else start.parent, *start.parents):
            if (candidate / ".git").exists():
                return candidate
    return None


def run_rules(catalog: Catalog, config: ReviewConfig, rules: Iterable[Rule] = RULES) -> list[Finding]:
    """Apply every enabled rule to ``catalog``; findings in rule order, then as the rule yields them."""
    listens: dict[str, str] = {}
    if config.transport == "auto" and any(s.transport in _NOTIFY_TRANSPORTS for s in catalog.notify_sites):
        root = _project_root(catalog, config)
        listens = project_listens(root) if root is not None else {}
    ctx = RuleContext(catalog, config, listens)
    findings: list[Finding] = []
    with graphs_kept(), collection_paused(), parser_nodes_trusted():
        for rule in rules:
            if config.rule_enabled(rule.id):
                findings.extend(rule.check(ctx, rule))
    return findings
