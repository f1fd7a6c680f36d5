"""Statements that need a superuser (or a role granted the right) wherever they sit in the SQL.

Read from PostgreSQL's own parse trees (pglast), never from the text: a top-level statement, a
``DO`` body, a function body (PL/pgSQL or SQL), and an ``EXECUTE`` of a constant string (parsed
in turn). Each use records what it is, where it is, and, inside PL/pgSQL, the exception handler
that would catch the refusal (SQLSTATE 42501) without re-raising it, so that a reviewer knows a
refusal there is silent. Which rights each statement needs is cited in ``docs/review.md``.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
import pglast
from pglast import ast
from pglast.enums import VariableSetKind
from pglast.stream import RawStream

from bcastsim.sqlmodel._cfg import first_lineno
from bcastsim.sqlmodel._datums import is_trigger_datum
from bcastsim.sqlmodel._types import PrivilegedUse, SourceLocation

__all__ = ["PRIVILEGED_KINDS", "executed_constant", "privileged_in_statement"]

#: kind → what it is, as the findings name it
PRIVILEGED_KINDS: Mapping[str, str] = {
    "copy-program": "COPY … TO/FROM PROGRAM",
    "copy-server-file": "COPY … TO/FROM a server file",
    "server-file-access": "a server file function",
    "large-object-file": "a server-side large-object file function",
    "alter-system": "ALTER SYSTEM",
    "dangerous-extension": "CREATE EXTENSION of an untrusted extension",
    "untrusted-language": "code in an untrusted language",
    "set-role": "a change of role",
    "dblink": "a dblink connection",
    "grant-privileged-role": "a GRANT of a role that reaches the server or is a superuser",
    "privileged-role-attribute": "a role given SUPERUSER, BYPASSRLS, REPLICATION or CREATEROLE",
    "event-trigger": "CREATE EVENT TRIGGER",
}

# Functions revoked from PUBLIC in PostgreSQL 15's system_functions.sql (superuser or a GRANT).
_SERVER_FILE_FUNCTIONS = frozenset({"pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file"})
# adminpack's writers: the extension is untrusted, its functions need superuser.
_ADMINPACK_FUNCTIONS = frozenset({"pg_file_write", "pg_file_rename", "pg_file_unlink", "pg_file_sync"})
_LARGE_OBJECT_FILE_FUNCTIONS = frozenset({"lo_import", "lo_export"})
# dblink--1.2.sql's functions that open or use a connection.
_DBLINK_FUNCTIONS = frozenset(
    {
        "dblink",
        "dblink_exec",
        "dblink_connect",
        "dblink_connect_u",
        "dblink_open",
        "dblink_fetch",
        "dblink_send_query",
    }
)
# Extensions whose control file does not say trusted = true and that reach files, the network or code.
_DANGEROUS_EXTENSIONS = frozenset({"adminpack", "dblink", "file_fdw", "postgres_fdw"})
# Languages a function may be written in only by a superuser: C, internal, and the untrusted PLs.
_UNTRUSTED_LANGUAGES = frozenset({"c", "internal"})
_ROLE_SETTINGS = frozenset({"role", "session_authorization"})
# PostgreSQL 15's predefined roles whose members reach the server's programs and files, or other sessions
# (the predefined-roles page of the docs; pg_signal_backend cancels and terminates any session that is not a
# superuser's: Realtime's replication connection, the application's).
_PRIVILEGED_ROLES = frozenset(
    {"pg_execute_server_program", "pg_read_server_files", "pg_write_server_files", "pg_signal_backend"}
)
# Role attributes (pglast's DefElem names) a migration has no business handing out: SUPERUSER, REPLICATION
# and BYPASSRLS need a superuser; CREATEROLE lets its holder grant itself the roles above in PostgreSQL 15.
_ROLE_ATTRIBUTES: Mapping[str, str] = {
    "superuser": "SUPERUSER",
    "bypassrls": "BYPASSRLS",
    "isreplication": "REPLICATION",
    "createrole": "CREATEROLE",
}
# Exception conditions that catch the refusal: insufficient_privilege (42501), its class (42) or anything.
_CATCHES_REFUSAL = frozenset(
    {"others", "insufficient_privilege", "42501", "syntax_error_or_access_rule_violation", "42000"}
)
# dblink refuses a non-superuser's password-less connection with 2F003 (dblink.c, dblink_security_check);
# dblink_connect_u, revoked from PUBLIC, with 42501 like the rest.
_CATCHES_BY_KIND: Mapping[str, frozenset[str]] = {
    "dblink": frozenset({"others", "prohibited_sql_statement_attempted", "2f003", "sql_routine_exception", "2f000"}),
}
# PL/pgSQL elog level ERROR (utils/elog.h): a RAISE at it or above re-raises.
_ELOG_ERROR = 21


def _untrusted_language(language: str) -> bool:
    name = language.lower()
    return name in _UNTRUSTED_LANGUAGES or (name.startswith("pl") and name.endswith("u"))


# Per enclosing block with handlers: its clauses in order, (conditions, re-raises), and the EXCEPTION line.
_Handlers = tuple[tuple[tuple[tuple[frozenset[str], bool], ...], int], ...]


@attrs.frozen
class _Where:
    """Where the nodes being walked are: how offsets become lines, and the enclosing context."""

    path: str
    line: int
    #: offset → line for the text the nodes' locations point into (None: every node is at ``line``)
    lines: Any = None
    context: str = ""
    function: str | None = None
    #: the enclosing blocks' exception clauses, innermost last
    handlers: _Handlers = ()
    #: roles given SUPERUSER before this statement
    superusers: frozenset[str] = frozenset()

    def swallowed_at(self, kind: str) -> int | None:
        """The file line of the EXCEPTION that catches a refusal of ``kind`` here and does not re-raise it.

        A block's clauses are tried in order and the first that matches handles the error; one that
        re-raises hands it to the enclosing block's clauses.
        """
        catches = _CATCHES_BY_KIND.get(kind, _CATCHES_REFUSAL)
        for clauses, line in reversed(self.handlers):
            matching = next((reraises for conditions, reraises in clauses if conditions & catches), None)
            if matching is False:
                return line
        return None

    def at(self, offset: int | None) -> SourceLocation:
        if self.lines is None or offset is None or offset < 0:
            return SourceLocation(self.path, self.line)
        return SourceLocation(self.path, int(self.lines.line(offset)))


def privileged_in_statement(  # noqa: PLR0917 - the statement, where it is, and what the loader already knows
    stmt: Any,
    statement_text: str,
    location: SourceLocation,
    lines: Any,
    plpgsql: Any = None,
    superusers: frozenset[str] = frozenset(),
) -> list[PrivilegedUse]:
    """The privileged uses in one top-level statement (``lines``: offsets of the file's text → line numbers).

    ``plpgsql``: the PL/pgSQL parse of the function the statement creates, when the loader has it
    (it is not parsed twice). ``superusers``: the roles earlier statements gave SUPERUSER, whose
    GRANT is a grant of superuser.
    """
    found: list[PrivilegedUse] = []
    where = _Where(location.path, location.line, lines, superusers=superusers)
    if isinstance(stmt, ast.CreateFunctionStmt):
        _create_function(stmt, where, found, 0, statement_text, plpgsql)
    elif isinstance(stmt, ast.CreateTrigStmt):
        if _trigger_may_call_privileged(statement_text):
            _walk(stmt, where, found, depth=0)
    elif isinstance(stmt, ast.DoStmt) or _may_hold_privileged(statement_text):
        _walk(stmt, where, found, depth=0)
    return found


_MAX_DEPTH = 8  # EXECUTE of a constant that runs an EXECUTE of a constant …: deeper is not followed


def _name(funcname: Any) -> tuple[str | None, str]:
    parts = [str(part.sval).lower() for part in funcname or () if isinstance(part, ast.String)]
    if not parts:
        return None, ""
    return (parts[-2] if len(parts) > 1 else None), parts[-1]


def _constant(node: Any) -> str | None:
    """A string constant, or ``'a' || 'b'`` of constants, as its value; None for anything computed."""
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.String):
        return str(node.val.sval)
    if isinstance(node, ast.TypeCast):
        return _constant(node.arg)
    if isinstance(node, ast.A_Expr) and node.name and len(node.name) == 1:
        operator = node.name[0].sval if isinstance(node.name[0], ast.String) else None
        if operator == "||":
            left, right = _constant(node.lexpr), _constant(node.rexpr)
            if left is not None and right is not None:
                return left + right
    return None


def _add(
    found: list[PrivilegedUse],
    kind: str,
    what: str,
    where: _Where,
    offset: int | None,
    *,
    refused_as: str = "",
    superuser_role: str | None = None,
) -> None:
    """Record a use; ``refused_as``: the kind whose SQLSTATE the refusal has, when not its own."""
    found.append(
        PrivilegedUse(
            kind=kind,
            what=what,
            location=where.at(offset),
            context=where.context,
            function=where.function,
            swallowed_at=where.swallowed_at(refused_as or kind),
            superuser_role=superuser_role,
        )
    )


def _walk(node: Any, where: _Where, found: list[PrivilegedUse], depth: int) -> None:
    """Every node below ``node``, iteratively (a deep expression must not exhaust Python's stack)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, tuple | list):
            stack.extend(reversed(item))
            continue
        if not isinstance(item, ast.Node):
            continue
        if _visit(item, where, found, depth):
            continue  # handled with its body: its own children are not walked again
        for slot in getattr(type(item), "__slots__", ()):
            child = getattr(item, slot, None)
            if isinstance(child, ast.Node | tuple | list):
                stack.append(child)


def _visit(node: ast.Node, where: _Where, found: list[PrivilegedUse], depth: int) -> bool:
    """Record ``node`` when it is privileged; True when it was walked whole here (a body of its own)."""
    offset = getattr(node, "location", None)
    if isinstance(node, ast.CopyStmt):
        direction = "FROM" if node.is_from else "TO"
        if node.is_program:
            _add(found, "copy-program", f"COPY … {direction} PROGRAM {node.filename!r}", where, None)
        elif node.filename is not None:
            _add(found, "copy-server-file", f"COPY … {direction} {node.filename!r} (a file on the server)", where, None)
    elif isinstance(node, ast.AlterSystemStmt):
        setting = node.setstmt.name if isinstance(node.setstmt, ast.VariableSetStmt) else None
        _add(found, "alter-system", f"ALTER SYSTEM {'SET ' + setting if setting else ''}".strip(), where, None)
    elif isinstance(node, ast.CreateExtensionStmt):
        name = str(node.extname or "").lower()
        if name in _DANGEROUS_EXTENSIONS:
            _add(found, "dangerous-extension", f"CREATE EXTENSION {name}", where, None)
        elif _untrusted_language(name) and name not in _UNTRUSTED_LANGUAGES:
            _add(found, "untrusted-language", f"CREATE EXTENSION {name} (an untrusted language)", where, None)
    elif isinstance(node, ast.VariableSetStmt):
        name = str(node.name or "").lower()
        if name in _ROLE_SETTINGS and node.kind != VariableSetKind.VAR_RESET:
            shown = "SET SESSION AUTHORIZATION" if name == "session_authorization" else "SET ROLE"
            _add(found, "set-role", shown, where, None)
    elif isinstance(node, ast.GrantRoleStmt):
        if node.is_grant:
            granted = [str(role.priv_name) for role in node.granted_roles or () if isinstance(role, ast.AccessPriv)]
            _grant(granted, _role_names(node.grantee_roles), "GRANT {roles} TO {grantees}", where, found)
    elif isinstance(node, ast.CreateRoleStmt | ast.AlterRoleStmt):
        _role_statement(node, where, found)
    elif isinstance(node, ast.CreateEventTrigStmt):
        _add(found, "event-trigger", f"CREATE EVENT TRIGGER {node.trigname} ON {node.eventname}", where, None)
    elif isinstance(node, ast.FuncCall):
        _function_call(node, where, found, offset)
    elif isinstance(node, ast.CreateFunctionStmt):
        _create_function(node, where, found, depth)
        return True
    elif isinstance(node, ast.DoStmt):
        _do(node, where, found, depth)
        return True
    return False


def _role_name(spec: Any) -> str:
    """A role as written: its name, or CURRENT_USER, SESSION_USER, CURRENT_ROLE, PUBLIC."""
    if isinstance(spec, ast.RoleSpec):
        if spec.rolename is not None:
            return str(spec.rolename)
        if spec.roletype is not None:
            return str(spec.roletype.name).removeprefix("ROLESPEC_")
    if isinstance(spec, ast.String):
        return str(spec.sval)
    return "?"


def _role_names(specs: Any) -> list[str]:
    return [_role_name(spec) for spec in specs or ()]


def _grant(
    granted: list[str],
    grantees: list[str],
    shape: str,
    where: _Where,
    found: list[PrivilegedUse],
    *,
    predefined: bool = True,
) -> None:
    """Membership of ``granted`` handed to ``grantees``: reported for the server roles and the superusers among them.

    ``predefined``: whether the statement can reach the predefined roles (ALTER GROUP cannot: PostgreSQL
    refuses to alter a reserved role, to a superuser too).
    """
    known = where.superusers | {use.superuser_role for use in found if use.superuser_role}
    privileged = [role for role in granted if (predefined and role in _PRIVILEGED_ROLES) or role in known]
    if privileged:
        shown = ", ".join(f"{role} (a superuser)" if role in known else role for role in privileged)
        _add(found, "grant-privileged-role", shape.format(roles=shown, grantees=", ".join(grantees)), where, None)


def _role_statement(node: ast.CreateRoleStmt | ast.AlterRoleStmt, where: _Where, found: list[PrivilegedUse]) -> None:
    """CREATE/ALTER ROLE (USER, GROUP): the attributes it gives, and the memberships it hands out."""
    options = _options(node.options)
    if isinstance(node, ast.CreateRoleStmt):
        role = str(node.role)
        kind = node.stmt_type.name.removeprefix("ROLESTMT_") if node.stmt_type is not None else "ROLE"
        verb = f"CREATE {kind}"
    else:
        role = _role_name(node.role)
        verb = "ALTER ROLE"
    given = [
        shown
        for name, shown in _ROLE_ATTRIBUTES.items()
        if name in options and isinstance(options[name].arg, ast.Boolean) and options[name].arg.boolval
    ]
    if given:
        superuser = role if "SUPERUSER" in given else None
        what = f"{verb} {role} {' '.join(given)}"
        _add(found, "privileged-role-attribute", what, where, None, superuser_role=superuser)
    if isinstance(node, ast.CreateRoleStmt) and "addroleto" in options:  # CREATE ROLE r IN ROLE pg_…
        _grant(_role_names(options["addroleto"].arg), [role], "CREATE ROLE {grantees} IN ROLE {roles}", where, found)
    elif isinstance(node, ast.AlterRoleStmt) and "rolemembers" in options and node.action == 1:  # ALTER GROUP … ADD
        members = _role_names(options["rolemembers"].arg)
        _grant([role], members, "ALTER GROUP {roles} ADD USER {grantees}", where, found, predefined=False)


def _function_call(node: ast.FuncCall, where: _Where, found: list[PrivilegedUse], offset: int | None) -> None:
    schema, name = _name(node.funcname)
    if schema not in (None, "pg_catalog", "public", "extensions"):
        return  # a function of the project's own schema that happens to share the name
    if name in _SERVER_FILE_FUNCTIONS or name in _ADMINPACK_FUNCTIONS:
        _add(found, "server-file-access", f"{name}()", where, offset)
    elif name in _LARGE_OBJECT_FILE_FUNCTIONS:
        _add(found, "large-object-file", f"{name}() (the server-side one)", where, offset)
    elif name in _DBLINK_FUNCTIONS:
        refused_as = "server-file-access" if name == "dblink_connect_u" else ""  # revoked from PUBLIC: 42501
        _add(found, "dblink", f"{name}()", where, offset, refused_as=refused_as)
    elif name == "set_config" and node.args:
        setting = _constant(node.args[0])
        value = node.args[1] if len(node.args) > 1 else None
        # set_config('role', NULL, …) goes back to the session's own role, as RESET ROLE does.
        resets = isinstance(value, ast.A_Const) and bool(value.isnull)
        if setting is not None and setting.strip().lower() in _ROLE_SETTINGS and not resets:
            _add(found, "set-role", f"set_config('{setting.strip().lower()}', …)", where, offset)


def _options(options: Any) -> dict[str, Any]:
    return {str(option.defname): option for option in options or () if isinstance(option, ast.DefElem)}


def _body_of(option: Any) -> tuple[str, int | None]:
    if option is None:
        return "", None
    arg = option.arg
    if isinstance(arg, tuple | list):
        arg = arg[0] if arg else None
    body = str(arg.sval) if isinstance(arg, ast.String) else ""
    located = option.arg_location if isinstance(getattr(option, "arg_location", None), int) else None
    return body, located


def _language(options: Mapping[str, Any], default: str) -> str:
    option = options.get("language")
    if option is not None and isinstance(option.arg, ast.String):
        return str(option.arg.sval).lower()
    return default


def _create_function(  # noqa: PLR0917 - the statement, where it is, where findings go, and what is parsed
    node: ast.CreateFunctionStmt,
    where: _Where,
    found: list[PrivilegedUse],
    depth: int,
    text: str | None = None,
    parsed: Any = None,
) -> None:
    _, name = _name(node.funcname)
    names = [str(part.sval) for part in node.funcname or () if isinstance(part, ast.String)]
    qualified = ".".join(names) if names else name
    options = _options(node.options)
    language = _language(options, "sql")
    # Its body runs when called, not here: the handlers around the CREATE do not catch what it does.
    # (Built directly: attrs.evolve reads the class's fields on every call, once per function.)
    inner = _Where(
        where.path,
        where.line,
        where.lines,
        context=f"in function {qualified}",
        function=qualified,
        superusers=where.superusers,
    )
    if _untrusted_language(language):
        _add(found, "untrusted-language", f"LANGUAGE {language}", inner, None)
        return
    # SET options (SET role = …) and defaults are walked as any other node.
    for option in node.options or ():
        if isinstance(option, ast.DefElem) and option.defname == "set":
            _walk(option.arg, inner, found, depth)
    _walk(node.parameters, inner, found, depth)
    if node.sql_body is not None:
        _walk(node.sql_body, inner, found, depth)
        return
    body, offset = _body_of(options.get("as"))
    body_line = where.at(offset).line if offset is not None else where.line
    if language == "plpgsql" and not _body_may_hold_privileged(body):
        return  # the tree is not walked: no statement or call in it can be privileged
    if language == "plpgsql" and parsed is not None:
        _PlpgsqlWalk(body_line, inner, found, depth, body).visit(parsed, None, ())
    elif language == "plpgsql":
        _function_body(node, text, body, body_line, inner, found, depth)
    elif language == "sql":
        _sql_text(body, body_line, inner, found, depth)


def _function_body(  # noqa: PLR0917 - the body, where it is, and where its findings go
    node: ast.CreateFunctionStmt,
    text: str | None,
    body: str,
    body_line: int,
    where: _Where,
    found: list[PrivilegedUse],
    depth: int,
) -> None:
    """A PL/pgSQL function's body, parsed with its own header (its parameters are variables there)."""
    if depth >= _MAX_DEPTH:
        return
    if text is None:
        try:
            text = RawStream()(node)
        except Exception:  # a node the deparser cannot print: the stand-in header below reads the body
            text = None
    parsed = None
    for candidate in (text, _stand_in(node, body)):
        if candidate is None:
            continue
        try:
            parsed = pglast.parse_plpgsql(candidate.strip().rstrip(";") + ";")
            break
        except Exception:  # types the catalog-less parser cannot look up: the stand-in may do
            continue
    if parsed is not None:
        # Line 1 of the parser's count is the body's first line, the one its opening quote is on.
        _PlpgsqlWalk(body_line, where, found, depth, body).visit(parsed, None, ())


def _stand_in(node: ast.CreateFunctionStmt, body: str) -> str:
    """A CREATE FUNCTION of the same body that the catalog-less parser reads: no parameters, a plain result."""
    returns = "void"
    if node.returnType is not None:
        names = [str(part.sval).lower() for part in node.returnType.names or () if isinstance(part, ast.String)]
        if names and names[-1] in {"trigger", "event_trigger"}:
            returns = names[-1]
        elif names:
            returns = "setof record" if node.returnType.setof else "record"
    return f"CREATE FUNCTION bcastsim_privileged() RETURNS {returns} LANGUAGE plpgsql AS $bcastsim${body}$bcastsim$"


def _do(node: ast.DoStmt, where: _Where, found: list[PrivilegedUse], depth: int) -> None:
    options = _options(node.args)
    language = _language(options, "plpgsql")
    inner = attrs.evolve(where, context="in a DO block")
    if _untrusted_language(language):
        _add(found, "untrusted-language", f"DO block in LANGUAGE {language}", inner, None)
        return
    body, offset = _body_of(options.get("as"))
    body_line = where.at(offset).line if offset is not None else where.line
    if language == "plpgsql" and depth < _MAX_DEPTH and _body_may_hold_privileged(body):
        text = f"CREATE FUNCTION bcastsim_privileged() RETURNS void LANGUAGE plpgsql AS $bcastsim${body}$bcastsim$"
        try:
            parsed = pglast.parse_plpgsql(text)
        except Exception:  # the catalog reports a DO body it cannot parse; here nothing is read from it
            return
        _PlpgsqlWalk(body_line, inner, found, depth, body).visit(parsed, None, ())


class _Lines:
    """Offsets into a text that starts at file line ``first`` → file lines."""

    def __init__(self, text: str, first: int) -> None:
        self._starts = [0] + [index + 1 for index, char in enumerate(text) if char == "\n"]
        self._first = first

    def line(self, offset: int) -> int:
        return self._first + bisect.bisect_right(self._starts, max(offset, 0)) - 1


def _first_token(text: str) -> int:
    """The offset of the first token of ``text`` (after whitespace and comments)."""
    try:
        tokens = pglast.parser.scan(text)
    except Exception:  # unscannable: the statement's own start will do
        return 0
    if not tokens:
        return 0
    # Token offsets are bytes of the UTF-8 text; the lines are counted in characters.
    return len(text.encode("utf-8")[: tokens[0].start].decode("utf-8", "replace"))


def _sql_text(text: str, first_line: int, where: _Where, found: list[PrivilegedUse], depth: int) -> None:
    """Statements held in a string (a SQL function's body, an EXECUTEd constant) starting at ``first_line``."""
    if depth >= _MAX_DEPTH or not text.strip():
        return
    try:
        statements = pglast.parse_sql(text)
    except Exception:  # not SQL on its own (a fragment): nothing in it is read as a statement
        return
    lines = _Lines(text, first_line)
    for raw in statements:
        start = raw.stmt_location or 0
        first = start + _first_token(text[start : start + (raw.stmt_len or len(text) - start)])
        _walk(raw.stmt, attrs.evolve(where, line=lines.line(first), lines=lines), found, depth + 1)


# -- PL/pgSQL ------------------------------------------------------------------------------------


class _PlpgsqlWalk:
    def __init__(self, body_line: int, where: _Where, found: list[PrivilegedUse], depth: int, body: str) -> None:
        self.shift = body_line
        self.where = where
        self.found = found
        self.depth = depth
        self.body_lines = body.split("\n")

    def exception_line(self, block: Mapping[str, Any], action: Any) -> int:
        """The body line of a block's ``EXCEPTION`` keyword, between its last statement and its first handler's.

        pglast's JSON gives a handler no line, and ``WHEN OTHERS THEN NULL`` has no statement to
        take one from; the keyword is found among the tokens of the lines between the two: the
        last one before the handler's first statement, else the first one after the block's body.
        """
        last = max(_linenos(block.get("body")), default=int(block.get("lineno", 1) or 1))
        action_line = first_lineno(action)
        until = min(action_line or last + 200, len(self.body_lines))
        found = [number for number in range(last, until + 1) if self._has_exception(number)]
        if found:
            return found[-1] if action_line is not None else found[0]
        return action_line or last

    def _has_exception(self, number: int) -> bool:
        text = self.body_lines[number - 1]
        if "exception" not in text.lower():
            return False
        try:
            tokens = pglast.parser.scan(text)
        except Exception:  # a line that does not scan alone (inside a string)
            return False
        encoded = text.encode("utf-8")
        return any(encoded[token.start : token.end + 1].lower() == b"exception" for token in tokens)

    def file_line(self, lineno: int | None) -> int:
        return self.shift + max(int(lineno or 1), 1) - 1

    def visit(self, node: Any, lineno: int | None, handlers: _Handlers) -> None:
        # The tree is decoded JSON: only its dicts and lists hold statements and expressions, and the
        # scalars (most of its values) are passed over without a call or an abstract-class check;
        # so are the trigger variables every trigger function declares (they hold no expression).
        if isinstance(node, list):
            for item in node:
                if isinstance(item, dict | list) and not is_trigger_datum(item):
                    self.visit(item, lineno, handlers)
            return
        if not isinstance(node, dict):
            return
        number = node.get("lineno")
        if isinstance(number, int):
            lineno = number
        block = node.get("PLpgSQL_stmt_block")
        if isinstance(block, dict):
            self.block(block, lineno, handlers)
            return
        for key, value in node.items():
            if isinstance(value, list):
                self.visit(value, lineno, handlers)
            elif not isinstance(value, dict):
                continue
            elif key == "PLpgSQL_expr":
                self.expression(value, lineno, handlers)
            elif key in ("PLpgSQL_stmt_dynexecute", "PLpgSQL_stmt_dynfors"):
                self.dynamic(value.get("query"), value.get("lineno", lineno), handlers)
                self.visit({k: v for k, v in value.items() if k != "query"}, lineno, handlers)
            elif key in ("PLpgSQL_stmt_return_query", "PLpgSQL_stmt_open"):
                self.dynamic(value.get("dynquery"), value.get("lineno", lineno), handlers)
                self.visit({k: v for k, v in value.items() if k != "dynquery"}, lineno, handlers)
            else:
                self.visit(value, lineno, handlers)

    def block(self, block: Mapping[str, Any], lineno: int | None, handlers: _Handlers) -> None:
        lineno = block.get("lineno", lineno)
        exceptions = block.get("exceptions") or {}
        clauses = exceptions.get("PLpgSQL_exception_block", {}).get("exc_list") or [] if exceptions else []
        inner = handlers
        if clauses:
            tried = tuple(
                (
                    frozenset(
                        str(condition.get("PLpgSQL_condition", {}).get("condname", "")).lower()
                        for condition in exception.get("conditions") or []
                        if isinstance(condition, Mapping)
                    ),
                    _reraises(exception.get("action")),
                )
                for clause in clauses
                if isinstance(clause, Mapping)
                for exception in (clause.get("PLpgSQL_exception", {}),)
            )
            first = clauses[0].get("PLpgSQL_exception", {}) if isinstance(clauses[0], Mapping) else {}
            inner = (*handlers, (tried, self.file_line(self.exception_line(block, first.get("action")))))
        self.visit(block.get("body"), lineno, inner)
        for clause in clauses:
            exception = clause.get("PLpgSQL_exception", {}) if isinstance(clause, Mapping) else {}
            self.visit(exception.get("action"), lineno, handlers)

    def located(self, lineno: int | None, handlers: _Handlers) -> _Where:
        return attrs.evolve(self.where, line=self.file_line(lineno), lines=None, handlers=handlers)

    def expression(self, expr: Mapping[str, Any], lineno: int | None, handlers: _Handlers) -> None:
        query = str(expr.get("query", ""))
        tree = _expression_tree(query, int(expr.get("parseMode", 0) or 0))
        if tree is not None:
            _walk(tree, self.located(lineno, handlers), self.found, self.depth + 1)

    def dynamic(self, expr: Any, lineno: int | None, handlers: _Handlers) -> None:
        """``EXECUTE <expr>``: the expression's own calls, and the statement when it is a constant string."""
        if not isinstance(expr, Mapping) or not isinstance(expr.get("PLpgSQL_expr"), Mapping):
            return
        query = str(expr["PLpgSQL_expr"].get("query", ""))
        tree = _expression_tree(query, 2, always=True)
        if tree is None:
            return
        where = self.located(lineno, handlers)
        _walk(tree, where, self.found, self.depth + 1)
        constant = _target_constant(tree)
        if constant is not None:
            executed = attrs.evolve(where, context=f"{where.context}, in an EXECUTE of a constant".lstrip(", "))
            before = len(self.found)
            _sql_text(constant, where.line, executed, self.found, self.depth + 1)
            # Lines inside the constant are not the file's: every use in it is placed at the EXECUTE.
            for index in range(before, len(self.found)):
                self.found[index] = attrs.evolve(self.found[index], location=where.at(None))


# What a parse tree holding a privileged use shows in its JSON form: the node types of the statements,
# the names of the functions. A tree showing none of them holds none, and is not built in Python.
_MARKERS = (
    '"CopyStmt"',
    '"AlterSystemStmt"',
    '"CreateExtensionStmt"',
    '"VariableSetStmt"',
    '"GrantRoleStmt"',
    '"CreateRoleStmt"',
    '"AlterRoleStmt"',
    '"CreateEventTrigStmt"',
    '"CreateFunctionStmt"',
    '"DoStmt"',
    *(
        f'"{name}"'
        for name in sorted(
            _SERVER_FILE_FUNCTIONS | _ADMINPACK_FUNCTIONS | _LARGE_OBJECT_FILE_FUNCTIONS | _DBLINK_FUNCTIONS
        )
    ),
    '"set_config"',
)


# What PL/pgSQL source holding a privileged use shows, lower-cased: the keyword that starts each
# statement of ``_MARKERS`` (COPY, ALTER SYSTEM/ROLE/USER/GROUP, CREATE EXTENSION/ROLE/USER/GROUP/
# EVENT TRIGGER/FUNCTION, SET, RESET, GRANT, DO), EXECUTE (the one way a string becomes a statement),
# the functions' names, and ``U&`` (a name spelled in escapes). PostgreSQL's lexer makes one token
# of a whole run of identifier characters and folds unquoted names to lower case, so each keyword
# token and each unquoted or quoted name is one of the words ``_WORD`` finds in the lower-cased text
# (a quoted name with capitals names another function; a non-ASCII letter beside a word only adds
# words). A body with none of them holds no use, and its tree need not be walked: most trigger
# bodies, which read and send.
_CALLED_WORDS = frozenset(
    {"set_config"} | _SERVER_FILE_FUNCTIONS | _ADMINPACK_FUNCTIONS | _LARGE_OBJECT_FILE_FUNCTIONS | _DBLINK_FUNCTIONS
)
_BODY_WORDS = frozenset({"copy", "alter", "create", "set", "reset", "grant", "do", "execute"} | _CALLED_WORDS)
_WORD = re.compile(r"[a-z_][a-z0-9_$]*")


def _may_spell(text: str, words: frozenset[str]) -> bool:
    """Whether ``text`` may spell one of ``words`` (False: it certainly does not; see ``_BODY_WORDS``)."""
    lowered = text.lower()
    return "u&" in lowered or not words.isdisjoint(_WORD.findall(lowered))


def _body_may_hold_privileged(body: str) -> bool:
    """Whether a PL/pgSQL body may hold a privileged use (False: it certainly does not)."""
    return _may_spell(body, _BODY_WORDS)


def _trigger_may_call_privileged(text: str) -> bool:
    """Whether a CREATE TRIGGER statement may call a privileged function (False: it certainly does not).

    Of ``_MARKERS`` a CREATE TRIGGER can hold only calls, in its WHEN condition: that holds no
    statement (PostgreSQL refuses a subquery there), and the function's arguments are constants.
    A call is spelled by its name, one of the words ``_WORD`` finds.
    """
    return _may_spell(text, _CALLED_WORDS)


def _may_hold_privileged(text: str) -> bool:
    """Whether the parse tree of ``text`` may hold a privileged use (False: it certainly does not)."""
    try:
        tree = pglast.parser.parse_sql_json(text)
    except Exception:  # not parsed here: the caller's own parse says what it is
        return True
    return any(marker in tree for marker in _MARKERS)


def executed_constant(expression: str) -> str | None:
    """The statement an ``EXECUTE`` of this PL/pgSQL expression runs, when the expression is a constant string."""
    return _target_constant(_expression_tree(expression, 2, always=True))


def _target_constant(tree: Any) -> str | None:
    target = tree.targetList[0].val if isinstance(tree, ast.SelectStmt) and tree.targetList else None
    return _constant(target)


def _expression_tree(query: str, mode: int, *, always: bool = False) -> Any:
    """The parse tree of a PL/pgSQL expression or statement (``parseMode`` of pglast's PL/pgSQL output).

    None when it holds nothing privileged (``always``: build it anyway, for the constant it may hold).
    """
    if mode >= 3:  # an assignment, ``target := expression``: the expression follows the first := or =
        query = _assigned(query)
        mode = 2
    text = query if mode == 0 else f"SELECT {query}"
    if not always and not _may_hold_privileged(text):
        return None
    try:
        statements = pglast.parse_sql(text)
    except Exception:  # PL/pgSQL-only syntax in a statement: nothing is read from it
        return None
    if not statements:
        return None
    return statements[0].stmt if len(statements) == 1 else tuple(raw.stmt for raw in statements)


def _assigned(query: str) -> str:
    """The expression of ``target := expression`` (the target is identifiers, dots and subscripts)."""
    try:
        tokens = pglast.parser.scan(query)
    except Exception:  # unscannable: the whole text is tried as an expression
        return query
    encoded = query.encode("utf-8")
    for token in tokens:
        if token.name in ("COLON_EQUALS", "ASCII_61"):
            return encoded[token.end + 1 :].decode("utf-8", "replace")
    return query


def _reraises(action: Any) -> bool:
    """Whether a handler's action raises at ERROR level (``RAISE;`` or ``RAISE EXCEPTION``) anywhere."""
    return any(int(raise_.get("elog_level", _ELOG_ERROR)) >= _ELOG_ERROR for raise_ in _raises(action))


def _raises(node: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(node, Mapping):
        raise_ = node.get("PLpgSQL_stmt_raise")
        if isinstance(raise_, Mapping):
            yield raise_
        for value in node.values():
            yield from _raises(value)
    elif isinstance(node, list):
        for item in node:
            yield from _raises(item)


def _linenos(node: Any) -> Iterator[int]:
    """Every statement line below ``node``."""
    if isinstance(node, Mapping):
        if isinstance(node.get("lineno"), int):
            yield int(node["lineno"])
        for value in node.values():
            yield from _linenos(value)
    elif isinstance(node, list):
        for item in node:
            yield from _linenos(item)
