"""What the model executes: tables, functions and triggers read from the SQL files.

The catalog of :mod:`bcastsim.sqlmodel` names tables, columns, functions and
triggers; the model also needs what only the raw parse tree holds (CHECK
expressions, foreign-key order, function parameters and their defaults), so
both are read here from the same files, in load order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pglast
import pglast.stream
from pglast import ast
from pglast.enums import ConstrType

from bcastsim._errors import InputError, UnsupportedError
from bcastsim.db._values import enum_type

__all__ = [
    "CheckDef",
    "ColumnDef",
    "ForeignKeyDef",
    "FunctionDef",
    "ParamDef",
    "Schema",
    "TableDef",
    "TriggerDef",
    "load_schema",
    "normalize_type",
]

_TYPE_NAMES = {
    "int4": "integer",
    "int": "integer",
    "integer": "integer",
    "int8": "bigint",
    "bigint": "bigint",
    "int2": "smallint",
    "smallint": "smallint",
    "bool": "boolean",
    "boolean": "boolean",
    "varchar": "varchar",
    "character varying": "varchar",
    "text": "text",
    "uuid": "uuid",
    "numeric": "numeric",
    "decimal": "numeric",
    "timestamptz": "timestamptz",
    "timestamp": "timestamp",
    "json": "json",
    "jsonb": "jsonb",
    "record": "record",
    "trigger": "trigger",
    "void": "void",
    "name": "text",
    "bpchar": "text",
}


def normalize_type(name: str) -> str:
    return _TYPE_NAMES.get(name.lower(), name.lower())


@attrs.frozen
class ColumnDef:
    name: str
    type_name: str
    modifiers: tuple[int, ...]
    not_null: bool
    default: ast.Node | None


@attrs.frozen
class CheckDef:
    name: str
    expr: ast.Node
    sql: str
    domain: str = ""  # the domain whose CHECK this is, on a column of that domain


@attrs.frozen
class ForeignKeyDef:
    name: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    # pg_constraint's confdeltype / confupdtype: a no action, r restrict, c cascade, n set null, d set default
    on_delete: str = "a"
    on_update: str = "a"


@attrs.frozen
class TableDef:
    name: str
    columns: tuple[ColumnDef, ...]
    primary_key: tuple[str, ...]
    unique: tuple[tuple[str, ...], ...]
    checks: tuple[CheckDef, ...]
    foreign_keys: tuple[ForeignKeyDef, ...]
    path: str
    line: int
    # GENERATED ALWAYS AS IDENTITY: explicit values need OVERRIDING SYSTEM VALUE
    always_identity: tuple[str, ...] = ()

    def column(self, name: str) -> ColumnDef | None:
        for column in self.columns:
            if column.name == name:
                return column
        return None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


@attrs.frozen
class ParamDef:
    name: str
    type_name: str
    default: ast.Node | None


@attrs.frozen
class FunctionDef:
    name: str
    language: str
    params: tuple[ParamDef, ...]
    returns: str
    plpgsql: dict[str, Any] | None
    path: str
    line: int
    body_line: int
    body: str = ""


@attrs.frozen
class TriggerDef:
    name: str
    table: str
    timing: str
    events: tuple[str, ...]
    update_columns: tuple[str, ...]
    level: str
    when: ast.Node | None
    function: str
    enabled: bool
    path: str
    line: int


@attrs.define
class Schema:
    tables: dict[str, TableDef] = attrs.Factory(dict)
    functions: dict[str, FunctionDef] = attrs.Factory(dict)
    triggers: dict[tuple[str, str], TriggerDef] = attrs.Factory(dict)
    # parent table -> its DEFAULT partition, the relation PostgreSQL names in row errors
    partitions: dict[str, str] = attrs.Factory(dict)
    # enum type -> its labels, in declaration order
    enums: dict[str, tuple[str, ...]] = attrs.Factory(dict)
    # The SQL's notify sites (bcastsim.sqlmodel.NotifySite): their emission conditions steer generation.
    notify_sites: tuple[Any, ...] = ()
    _fk_counter: int = 0

    def triggers_for(self, table: str) -> list[TriggerDef]:
        """A table's triggers in firing order: byte order of the trigger name."""
        found = [t for (tab, _), t in self.triggers.items() if tab == table]
        return sorted(found, key=lambda t: t.name.encode())


def _qualified(schemaname: str | None, name: str) -> str:
    return name if not schemaname or schemaname == "public" else f"{schemaname}.{name}"


def _names(nodes: Iterable[Any] | None) -> list[str]:
    return [str(n.sval) for n in nodes or () if isinstance(n, ast.String)]


def _type_of(type_name: Any) -> tuple[str, tuple[int, ...]]:
    names = [n for n in _names(type_name.names) if n != "pg_catalog"]
    base = normalize_type(".".join(names))
    modifiers: list[int] = []
    for mod in type_name.typmods or ():
        value: Any = mod
        if isinstance(value, ast.A_Const) and isinstance(value.val, ast.Integer):
            modifiers.append(int(value.val.ival or 0))
    if type_name.arrayBounds:
        base += "[]"
    return base, tuple(modifiers)


class _Loader:
    """What the catalog leaves out: CHECK expressions, composite keys, foreign-key order, partitions."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        # domain -> its CHECKs (name, SQL over VALUE); the catalog already gives a domain column its base type
        self._domain_checks: dict[str, list[tuple[str, str]]] = {}

    def load(self, path: Path) -> None:
        text = path.read_text(encoding="utf-8")
        try:
            statements = pglast.parse_sql(text)
        except pglast.parser.ParseError as error:
            raise InputError(f"cannot parse SQL: {error}", path=path) from None
        encoded = text.encode("utf-8")
        for raw in statements:
            line = encoded[: raw.stmt_location or 0].count(b"\n") + 1
            self._statement(raw.stmt, path, line)

    def _statement(self, stmt: Any, path: Path, line: int) -> None:
        if isinstance(stmt, ast.DoStmt):
            # Installers wrap DDL in DO blocks (to catch "already exists"); the tables are as real as any.
            for inner in _do_block_statements(stmt):
                self._statement(inner, path, line)
        elif isinstance(stmt, ast.CreateStmt):
            self._create_table(stmt, path, line)
        elif isinstance(stmt, ast.IndexStmt):
            self._unique_index(stmt)
        elif isinstance(stmt, ast.CreateEnumStmt):
            name = ".".join(n for n in _names(stmt.typeName) if n != "public")
            self.schema.enums[name] = tuple(_names(stmt.vals))
        elif isinstance(stmt, ast.CreateDomainStmt):
            name = ".".join(n for n in _names(stmt.domainname) if n != "public")
            checks = [c for c in stmt.constraints or () if c.contype == ConstrType.CONSTR_CHECK]
            self._domain_checks[name] = [
                (c.conname or f"{name}_check", pglast.stream.RawStream()(c.raw_expr)) for c in checks
            ]

    def _unique_index(self, stmt: Any) -> None:
        if not stmt.unique:
            return
        table = _qualified(stmt.relation.schemaname, stmt.relation.relname)
        columns = tuple(p.name for p in stmt.indexParams)
        if table in self.schema.tables and all(columns):
            old = self.schema.tables[table]
            self.schema.tables[table] = attrs.evolve(old, unique=(*old.unique, columns))

    def _create_table(self, stmt: Any, path: Path, line: int) -> None:
        name = _qualified(stmt.relation.schemaname, stmt.relation.relname)
        if stmt.partbound is not None:
            if stmt.partbound.is_default and stmt.inhRelations:
                parent = stmt.inhRelations[0]
                self.schema.partitions[_qualified(parent.schemaname, parent.relname)] = stmt.relation.relname
            return
        columns: list[ColumnDef] = []
        primary: tuple[str, ...] = ()
        unique: list[tuple[str, ...]] = []
        checks: list[CheckDef] = []
        fks: list[ForeignKeyDef] = []
        always: list[str] = []
        relname: str = stmt.relation.relname

        def constraint(con: Any, column: str | None) -> None:
            nonlocal primary
            kind = con.contype
            if kind == ConstrType.CONSTR_PRIMARY:
                primary = (column,) if column else tuple(_names(con.keys))
            elif kind == ConstrType.CONSTR_UNIQUE:
                unique.append((column,) if column else tuple(_names(con.keys)))
            elif kind == ConstrType.CONSTR_CHECK:
                cname = con.conname or _check_name(relname, con.raw_expr, {c.name for c in checks})
                checks.append(CheckDef(cname, con.raw_expr, pglast.stream.RawStream()(con.raw_expr)))
            elif kind == ConstrType.CONSTR_FOREIGN:
                self.schema._fk_counter += 1
                ref = _qualified(con.pktable.schemaname, con.pktable.relname)
                local = (column,) if column else tuple(_names(con.fk_attrs))
                remote = tuple(_names(con.pk_attrs or ()))
                fks.append(
                    ForeignKeyDef(
                        f"{self.schema._fk_counter:08d}", local, ref, remote,
                        _action(con.fk_del_action), _action(con.fk_upd_action),
                    )
                )  # fmt: skip

        for element in stmt.tableElts or ():
            if isinstance(element, ast.ColumnDef):
                item: Any = element
                type_name, mods = _type_of(item.typeName)
                domain = type_name.removeprefix("public.")
                for cname, text in self._domain_checks.get(domain, ()):
                    expr = _over_column(text, item.colname)
                    checks.append(CheckDef(cname, expr, pglast.stream.RawStream()(expr), domain))
                for con in item.constraints or ():
                    constraint(con, item.colname)
                    if con.contype == ConstrType.CONSTR_IDENTITY and con.generated_when == "a":
                        always.append(item.colname)
                columns.append(ColumnDef(item.colname, type_name, mods, bool(item.is_not_null), None))
            elif isinstance(element, ast.Constraint):
                constraint(element, None)
        # Referenced columns default to the referenced table's primary key.
        fks = [
            fk if fk.ref_columns else attrs.evolve(fk, ref_columns=self._primary_key_of(fk.ref_table, name, primary))
            for fk in fks
        ]
        self.schema.tables[name] = TableDef(
            name, tuple(columns), primary, tuple(unique), tuple(checks), tuple(fks), str(path), line, tuple(always)
        )

    def _primary_key_of(self, table: str, current: str, current_pk: tuple[str, ...]) -> tuple[str, ...]:
        if table == current:
            return current_pk
        return self.schema.tables[table].primary_key if table in self.schema.tables else ("id",)


def _check_name(relname: str, expr: Any, taken: set[str]) -> str:
    """PostgreSQL's name for an unnamed CHECK: ``<table>_<column>_check`` when it reads one column,
    else ``<table>_check``; a number appended while the name is taken (``rooms_check1``)."""
    columns = {
        str(node.fields[-1].sval)
        for node in _walk_nodes(expr)
        if isinstance(node, ast.ColumnRef) and node.fields and isinstance(node.fields[-1], ast.String)
    }
    base = f"{relname}_{columns.pop()}" if len(columns) == 1 else relname
    name, number = f"{base}_check", 0
    while name in taken:
        number += 1
        name = f"{base}_check{number}"
    return name


def _walk_nodes(node: Any) -> Iterator[Any]:
    if isinstance(node, tuple | list):
        for item in node:
            yield from _walk_nodes(item)
    elif isinstance(node, ast.Node):
        yield node
        if isinstance(node, ast.SubLink):
            return  # PostgreSQL counts the columns outside subqueries
        for slot in getattr(type(node), "__slots__", ()):
            yield from _walk_nodes(getattr(node, slot, None))


def _over_column(check_sql: str, column: str) -> Any:
    """A domain CHECK over ``VALUE`` as a CHECK over the column of that domain.

    PostgreSQL checks a domain when the value is formed, before BEFORE triggers run; as a
    column CHECK the model checks it after them, with the same SQLSTATE (23514).
    """
    select: Any = pglast.parse_sql(f"SELECT {check_sql}")[0].stmt
    expr: Any = select.targetList[0].val

    def replace(node: Any) -> Any:
        if isinstance(node, ast.ColumnRef) and [getattr(f, "sval", None) for f in node.fields or ()] == ["value"]:
            return ast.ColumnRef(fields=(ast.String(sval=column),))
        if isinstance(node, ast.Node):
            for name in list(node):
                value = getattr(node, name)
                if isinstance(value, tuple):
                    setattr(node, name, tuple(replace(v) for v in value))
                elif isinstance(value, ast.Node):
                    setattr(node, name, replace(value))
        return node

    return replace(expr)


def _do_block_statements(stmt: Any) -> list[Any]:
    """The SQL statements a PL/pgSQL DO block runs as written (not those it builds at run time)."""
    options = {o.defname: o.arg for o in stmt.args or () if isinstance(o, ast.DefElem)}
    language = options.get("language")
    body = options.get("as")
    if not isinstance(body, ast.String) or (isinstance(language, ast.String) and language.sval != "plpgsql"):
        return []
    try:
        parsed = pglast.parse_plpgsql(f"CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $do${body.sval}$do$")
    except pglast.parser.ParseError:
        return []
    found: list[Any] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for kind, inner in node.items():
                if kind == "PLpgSQL_stmt_execsql" and isinstance(inner, dict):
                    query = inner.get("sqlstmt", {}).get("PLpgSQL_expr", {}).get("query", "")
                    # What only PL/pgSQL can read (an assignment, a PERFORM) is not DDL.
                    with contextlib.suppress(pglast.parser.ParseError):
                        found.extend(raw.stmt for raw in pglast.parse_sql(str(query)))
                else:
                    walk(inner)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(parsed)
    return found


def _action(code: str | None) -> str:
    return "a" if not code or code == "\x00" else code


def _raw_schema(paths: Sequence[str | Path]) -> Schema:
    schema = Schema()
    loader = _Loader(schema)
    for entry in paths:
        path = Path(entry)
        files = sorted(path.glob("*.sql")) if path.is_dir() else [path]
        for file in files:
            loader.load(file)
    return schema


def _expression(sql: str | None) -> Any:
    if sql is None:
        return None
    stmt: Any = pglast.parse_sql(f"SELECT {sql}")[0].stmt
    return stmt.targetList[0].val


def _default_sql(table: str, column: str, default: str | None) -> str | None:
    """serial and identity columns draw from their own sequence; a generated column has no default."""
    if default in ("nextval(…)", "identity"):
        sequence = f"{table}_{column}_seq".replace("'", "''")
        return f"nextval('{sequence}')"
    if default is not None and default.startswith("generated: "):
        return None
    return default


def _written_type(raw: TableDef, column: str, resolved: str, enums: dict[str, tuple[str, ...]]) -> str:
    """The enum a column was declared with: the catalog resolves enum columns to text, the model checks labels."""
    written = raw.column(column)
    if written is not None and written.type_name.removeprefix("public.") in enums:
        return written.type_name
    return resolved


def _model_type(type_name: str, enums: dict[str, tuple[str, ...]]) -> str:
    name = normalize_type(type_name)
    bare = name.removeprefix("public.")
    return enum_type(bare, enums[bare]) if bare in enums else name


def load_schema(paths: Sequence[str | Path]) -> Schema:
    """Read the SQL files (in load order; directories in name order) into a :class:`Schema`.

    Tables, functions and triggers come from :func:`bcastsim.sqlmodel.load_catalog`,
    so the model runs exactly what ``bcastsim inspect`` reports; CHECK expressions,
    multi-column keys and foreign-key order, which the catalog does not carry, come
    from the same parse trees.
    """
    from bcastsim.sqlmodel import load_catalog

    raw = _raw_schema(paths)
    catalog = load_catalog(list(paths))
    schema = Schema(partitions=dict(raw.partitions), enums=dict(raw.enums), notify_sites=tuple(catalog.notify_sites))
    for name, table in catalog.tables.items():
        extra = raw.tables.get(name)
        if extra is None:
            continue  # a partition: its rows live in the parent
        columns = tuple(
            ColumnDef(
                c.name, _model_type(_written_type(extra, c.name, c.type_name, raw.enums), raw.enums),
                tuple(c.type_modifiers), c.not_null,
                _expression(_default_sql(name, c.name, c.default_sql)),
            )
            for c in table.columns
        )  # fmt: skip
        unique: list[tuple[str, ...]] = [
            (c.name,) for c in table.columns if c.unique and (c.name,) != tuple(table.primary_key)
        ]
        # CREATE UNIQUE INDEX on one column counts as much as a UNIQUE constraint.
        unique += [key for key in extra.unique if key not in unique and key != tuple(table.primary_key)]
        foreign_keys = extra.foreign_keys
        schema.tables[name] = TableDef(
            name,
            columns,
            tuple(table.primary_key),
            tuple(unique),
            extra.checks,
            foreign_keys,
            table.location.path,
            table.location.line,
            extra.always_identity,
        )
    for name, function in catalog.functions.items():
        params = tuple(
            ParamDef(p.name or "", normalize_type(p.type_name), _expression(p.default_sql))
            for p in function.parameters
            if p.mode in ("in", "inout", "variadic")
        )
        schema.functions[name] = FunctionDef(
            name,
            function.language,
            params,
            normalize_type(function.returns),
            function.plpgsql,
            function.location.path,
            function.location.line,
            function.body_location.line,
            function.body,
        )
    for key, trigger in catalog.triggers.items():
        if trigger.arguments:
            raise UnsupportedError(
                "trigger arguments (TG_ARGV)", path=trigger.location.path, line=trigger.location.line
            )
        schema.triggers[key] = TriggerDef(
            trigger.name,
            trigger.table,
            trigger.timing,
            tuple(trigger.events),
            tuple(trigger.update_columns),
            trigger.level,
            _expression(trigger.when_sql),
            trigger.function,
            trigger.enabled,
            trigger.location.path,
            trigger.location.line,
        )
    return schema
