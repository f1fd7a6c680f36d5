"""The typed objects the SQL model is made of: tables, functions, triggers, notify sites."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Literal

import attrs

__all__ = [
    "Catalog",
    "Column",
    "ColumnRef",
    "Diagnostic",
    "Function",
    "Hole",
    "NotifySite",
    "Parameter",
    "PayloadField",
    "PrivilegedUse",
    "SourceLocation",
    "Table",
    "Template",
    "Transport",
    "Trigger",
]

Transport = Literal["pg_notify", "realtime.send", "realtime.broadcast_changes", "NOTIFY"]


@attrs.frozen(order=True)
class SourceLocation:
    """A place in an input file; ``line`` is 1-based."""

    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line}


@attrs.frozen
class Diagnostic:
    """A construct the analysis saw but could not (fully) understand.

    ``code`` is a stable slug (``dynamic-channel``, ``dynamic-sql``, ``loop-payload``, ...)
    so tools can filter on it; ``message`` says what was not understood and what the
    model does instead.
    """

    code: str
    message: str
    location: SourceLocation
    function: str | None = None

    def __str__(self) -> str:
        return f"{self.location}: {self.code}: {self.message}"

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "path": self.location.path,
            "line": self.location.line,
            "function": self.function,
        }


@attrs.frozen(order=True)
class ColumnRef:
    """A column of a table; the table is schema-qualified only outside ``public``."""

    table: str
    column: str

    def __str__(self) -> str:
        return f"{self.table}.{self.column}"


@attrs.frozen
class Column:
    name: str
    type_name: str
    type_modifiers: tuple[int, ...] = ()
    not_null: bool = False
    default_sql: str | None = None
    references: tuple[str, str] | None = None
    unique: bool = False
    # At most this many characters: from a CHECK (char_length(c) <= n), a domain or an enum.
    max_chars: int | None = None


@attrs.frozen(cache_hash=True)  # in every trigger row context, which is a key of the evaluation's memos
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    location: SourceLocation

    def column(self, name: str) -> Column | None:
        """The column called ``name`` (case-sensitive, as stored), or None."""
        for column in self.columns:
            if column.name == name:
                return column
        return None


@attrs.frozen
class Parameter:
    """A function parameter; ``mode`` is ``in``, ``out``, ``inout``, ``variadic`` or ``table``."""

    name: str | None
    type_name: str
    default_sql: str | None = None
    mode: str = "in"


@attrs.frozen
class Function:
    """A function as the last ``CREATE [OR REPLACE] FUNCTION`` left it.

    ``body_location.line`` is the file line of the body's first line (the line holding
    the opening ``$$``), so a PL/pgSQL statement with ``lineno`` *n* sits on file line
    ``body_location.line + n - 1``.
    """

    name: str
    language: str
    security_definer: bool
    search_path: str | None
    returns: str
    body: str
    body_location: SourceLocation
    plpgsql: dict[str, object] | None
    location: SourceLocation
    parameters: tuple[Parameter, ...] = ()
    #: why ``search_path`` may be set although no statement read says so (a DO loop over the catalog
    #: running ALTER FUNCTION … SET search_path with a query the loader cannot resolve); None: known
    search_path_unknown: str | None = None

    @property
    def signature(self) -> tuple[str, ...]:
        """The argument types that identify the function beside its name (OUT parameters excluded)."""
        return tuple(p.type_name for p in self.parameters if p.mode not in ("out", "table"))

    def file_line(self, lineno: int) -> SourceLocation:
        """The file location of PL/pgSQL line ``lineno`` (1-based within the body)."""
        return SourceLocation(self.body_location.path, self.body_location.line + max(lineno, 1) - 1)


@attrs.frozen
class PrivilegedUse:
    """One statement or call that needs more than an ordinary role has."""

    #: a key of :data:`PRIVILEGED_KINDS`
    kind: str
    #: what it is, e.g. ``COPY … TO PROGRAM 'id'`` or ``pg_read_file()``
    what: str
    location: SourceLocation
    #: where it sits: "", "in function f", "in a DO block", with "EXECUTE of a constant" when so
    context: str = ""
    function: str | None = None
    #: the file line of an exception handler that would swallow a refusal here
    swallowed_at: int | None = None
    #: the role this statement gives SUPERUSER (a later GRANT of it hands out superuser)
    superuser_role: str | None = None


@attrs.frozen
class Trigger:
    name: str
    table: str
    timing: Literal["BEFORE", "AFTER", "INSTEAD OF"]
    events: tuple[str, ...]
    update_columns: tuple[str, ...]
    level: Literal["ROW", "STATEMENT"]
    when_sql: str | None
    function: str
    enabled: bool
    location: SourceLocation
    arguments: tuple[str, ...] = ()


@attrs.frozen
class Hole:
    """A value spliced into a channel or event name at run time."""

    expression_sql: str
    sources: tuple[ColumnRef, ...] = ()
    sql_type: str | None = None
    nullable: bool = True
    max_bytes: int | None = None
    nullable_reason: str | None = None
    # False when the value's type (and so whether it can be NULL) is unknown, e.g. a column of a
    # table the inputs do not define.
    nullability_known: bool = True
    # False when the value could not be followed: its length is unknown, not unbounded.
    traced: bool = True
    # Kept from NULL by a guard on the path (IF NOT FOUND THEN RETURN, STRICT), not by the data.
    guarded: bool = False

    @property
    def label(self) -> str:
        if self.sources:
            return ",".join(dict.fromkeys(str(source) for source in self.sources))
        return self.expression_sql

    def __str__(self) -> str:
        return "{" + self.label + "}"


_UUID_RE = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_INT_RE = "-?[0-9]+"


@attrs.frozen
class Template:
    """A channel, topic or event name: literal text and holes filled at run time."""

    parts: tuple[str | Hole, ...]

    def __str__(self) -> str:
        return "".join(str(part) for part in self.parts)

    @property
    def holes(self) -> tuple[Hole, ...]:
        return tuple(part for part in self.parts if isinstance(part, Hole))

    @property
    def is_literal(self) -> bool:
        return not self.holes

    @property
    def literal_prefix(self) -> str:
        prefix = []
        for part in self.parts:
            if isinstance(part, Hole):
                break
            prefix.append(part)
        return "".join(prefix)

    @property
    def shape(self) -> str:
        """The template with every hole written ``{…}``: equal shapes name the same channels."""
        return "".join("{…}" if isinstance(part, Hole) else part for part in self.parts)

    @property
    def max_bytes(self) -> int | None:
        """Worst-case length in bytes of a rendered name, or None when a hole is unbounded."""
        total = 0
        for part in self.parts:
            if isinstance(part, Hole):
                if part.max_bytes is None:
                    return None
                total += part.max_bytes
            else:
                total += len(part.encode())
        return total

    def regex(self) -> str:
        """A regular expression (anchored) matching every name the template can render.

        Holes of a known type match only that type's text form; a nullable hole may also
        render as the empty string (``concat`` turns NULL into ``''``).
        """
        pieces = ["^"]
        for part in self.parts:
            if isinstance(part, Hole):
                if part.sql_type == "uuid":
                    body = _UUID_RE
                elif part.sql_type in {"integer", "bigint", "smallint"}:
                    body = _INT_RE
                else:
                    body = ".+"
                pieces.append(f"(?:{body})?" if part.nullable else f"(?:{body})")
            else:
                pieces.append(re.escape(part))
        pieces.append("$")
        return "".join(pieces)

    def matches(self, name: str) -> bool:
        return re.fullmatch(self.regex(), name, flags=re.DOTALL) is not None


@attrs.frozen
class PayloadField:
    """One key of a JSON payload: where its value comes from and what it can be.

    ``sources`` are the table columns the value is computed from (through NEW/OLD and
    through variables filled by ``SELECT … INTO``); ``max_bytes`` is the worst-case size
    of the rendered JSON value (None: unbounded, see ``unbounded_reason``); ``values``
    lists the possible values when they are all literals (e.g. ``type``).
    """

    key: str
    expression_sql: str
    sources: tuple[ColumnRef, ...]
    sql_type: str | None
    nullable: bool
    max_bytes: int | None
    nullable_reason: str | None = None
    unbounded_reason: str | None = None
    values: tuple[str, ...] | None = None
    # False when the analysis could not follow the value (an undefined table, EXECUTE, …):
    # its nullability and size are then unknown rather than unbounded.
    traced: bool = True

    @property
    def constant(self) -> str | None:
        """The value when the field is one literal string."""
        if self.values is not None and len(self.values) == 1 and not self.nullable:
            return self.values[0]
        return None


@attrs.frozen
class NotifySite:
    """One call that sends a message: ``pg_notify``, ``NOTIFY``, ``realtime.send``/``broadcast_changes``.

    ``payload`` is None when the payload is not a key/value object the analysis can read
    (a diagnostic then says why). ``operations`` are the trigger operations (INSERT,
    UPDATE, DELETE, TRUNCATE) under which the site can run, after the triggers' events
    and the ``TG_OP`` guards; ``payload_format`` is ``json`` (``"k" : v``), ``jsonb``
    (``"k": v``) or None.
    """

    function: str
    transport: Transport
    channel: Template
    event: Template | None
    private: bool | None
    payload: tuple[PayloadField, ...] | None
    payload_builder: str | None
    guards: tuple[str, ...]
    tables: tuple[str, ...]
    location: SourceLocation
    operations: tuple[str, ...] = ()
    payload_format: str | None = None
    max_payload_bytes: int | None = None
    unbounded_reason: str | None = None
    # How the channel/topic argument is built: "concat" and "format" drop a NULL part, "||"
    # makes the whole name NULL; "literal" or "other".
    channel_builder: str = "other"
    # realtime.send: whether the call passes ``private`` (else the default, true, applies).
    private_given: bool = False
    # False when the payload's worst case is unknown because the analysis could not follow it
    # (rather than known to be unbounded).
    size_traced: bool = True
    # When the message is sent: per trigger operation, the conditions that must all hold
    # (the triggers' WHEN and UPDATE OF, then the function's guards on the path to the call).
    emitted_when: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def key(self) -> str:
        """A stable identifier: ``function@path:line``."""
        return f"{self.function}@{self.location}"

    @property
    def payload_keys(self) -> tuple[str, ...]:
        return tuple(field.key for field in self.payload or ())

    def field(self, key: str) -> PayloadField | None:
        for field in self.payload or ():
            if field.key == key:
                return field
        return None


class TriggerTable(dict[tuple[str, str], "Trigger"]):
    """Triggers by (table, name); counts its changes so that indexes over it know when to rebuild."""

    version = 0

    def __setitem__(self, key: tuple[str, str], value: Trigger) -> None:
        self.version += 1
        super().__setitem__(key, value)

    def __delitem__(self, key: tuple[str, str]) -> None:
        self.version += 1
        super().__delitem__(key)

    def pop(self, key: tuple[str, str], default: Any = None) -> Any:
        self.version += 1
        return super().pop(key, default)

    def clear(self) -> None:
        self.version += 1
        super().clear()


def _trigger_table(value: dict[tuple[str, str], Trigger]) -> TriggerTable:
    return value if isinstance(value, TriggerTable) else TriggerTable(value)


@attrs.define
class Catalog:
    """Everything the SQL files define, after applying them in order."""

    tables: dict[str, Table] = attrs.field(factory=dict)
    functions: dict[str, Function] = attrs.field(factory=dict)
    triggers: dict[tuple[str, str], Trigger] = attrs.field(factory=TriggerTable, converter=_trigger_table)
    diagnostics: list[Diagnostic] = attrs.field(factory=list)
    paths: tuple[str, ...] = ()
    # Filled with the notify sites: function → functions it calls / tables it writes.
    calls: dict[str, tuple[str, ...]] = attrs.field(factory=dict)
    writes: dict[str, tuple[str, ...]] = attrs.field(factory=dict)
    # Schemas the files create and channels they LISTEN on: what the project's transport is.
    schemas: set[str] = attrs.field(factory=set)
    # Functions a script calls (SELECT f();) and then drops: what they sent was sent.
    ran_functions: dict[str, Function] = attrs.field(factory=dict)
    listens: set[str] = attrs.field(factory=set)
    # Statements and calls that need a superuser, wherever they sit (``_privileged``), in file order.
    privileged: list[PrivilegedUse] = attrs.field(factory=list)
    _notify_sites: tuple[NotifySite, ...] | None = attrs.field(default=None, alias="notify_sites")
    # What finds the notify sites (the loader passes the PL/pgSQL analysis, which sits above this module).
    analyzer: Callable[[Catalog], tuple[NotifySite, ...]] | None = attrs.field(default=None, repr=False, eq=False)
    # function → its triggers in (table, name) order, and the table version it was built from.
    _by_function: tuple[int, int, dict[str, tuple[Trigger, ...]]] | None = attrs.field(default=None, init=False)

    @property
    def notify_sites(self) -> tuple[NotifySite, ...]:
        """Every message-sending site in every function, in file order."""
        if self._notify_sites is None:
            if self.analyzer is None:
                raise TypeError("this Catalog was not built by load_catalog: it has no PL/pgSQL analysis")
            self._notify_sites = self.analyzer(self)
        return self._notify_sites

    def triggers_for(self, function: str) -> tuple[Trigger, ...]:
        """Triggers that run ``function``, in (table, name) order."""
        table = self.triggers
        version = table.version if isinstance(table, TriggerTable) else -1
        if self._by_function is None or self._by_function[:2] != (id(table), version) or version < 0:
            index: dict[str, list[Trigger]] = {}
            for key in sorted(table):
                index.setdefault(table[key].function, []).append(table[key])
            self._by_function = (id(table), version, {name: tuple(found) for name, found in index.items()})
        return self._by_function[2].get(function, ())

    def triggers_on(self, table: str) -> tuple[Trigger, ...]:
        """Triggers on ``table`` in firing order (PostgreSQL fires them by name)."""
        found = [trigger for (t, _), trigger in self.triggers.items() if t == table]
        return tuple(sorted(found, key=lambda trigger: trigger.name.encode()))
