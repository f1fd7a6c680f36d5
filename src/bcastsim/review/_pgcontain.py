"""What ``review --pg`` says when its bounds stopped the SQL, and where a finding of PostgreSQL's happened.

A bound the review set (a cap on what is captured, a role's timeout, the server's memory limit,
the review's time limit) stops hostile SQL from holding the machine, but what the SQL would
have sent past it was never compared: such a run is ``pg-inconclusive``, never clean.

PostgreSQL names the statement that raised an error: for a file, the file and the line of the
statement being applied (the capture's notes); inside PL/pgSQL, its CONTEXT
(``PL/pgSQL function item_audit() line 3 at EXECUTE``), the function and the line in its body.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bcastsim.findings import Finding

if TYPE_CHECKING:
    from bcastsim.pg import Database, TransactionResult
    from bcastsim.review._report import RuleInfo

__all__ = ["context_site", "cut_findings", "load_site", "placed", "swallowed_refusals"]

# One frame of PostgreSQL's CONTEXT for PL/pgSQL (pl_exec.c, plpgsql_exec_error_callback):
# "PL/pgSQL function NAME(ARGS) line N at WHAT". DO blocks are "inline_code_block".
_PLPGSQL_FRAME = re.compile(r"^PL/pgSQL function (?P<name>[^(\s]+)\([^)]*\) line (?P<line>\d+)", re.MULTILINE)
_SHOWN_TRANSACTIONS = 3
# Frames that are the transport, not the statement that used it: Supabase's realtime.send /
# broadcast_changes (a message is placed at the call of realtime.send).
_TRANSPORT_SCHEMAS = ("realtime.",)


# The capture's own functions, named unqualified (their schema is first on the search path).
_TAP_FUNCTIONS = frozenset({"pg_notify", "record_entry", "record_message"})


def context_site(context: str) -> tuple[str, int] | None:
    """(function, line in its body) of the innermost PL/pgSQL frame of a CONTEXT that is the SQL's own."""
    for match in _PLPGSQL_FRAME.finditer(context):
        name = match.group("name")
        if name != "inline_code_block" and name not in _TAP_FUNCTIONS and not name.startswith(_TRANSPORT_SCHEMAS):
            return name, int(match.group("line"))
    return None


def load_site(error: BaseException) -> tuple[str, int] | None:
    """(file, line) of the statement a file was applying when PostgreSQL raised ``error``."""
    from bcastsim.pg._capture import APPLYING_NOTE, STATEMENT_LINE_NOTE

    notes = getattr(error, "__notes__", ())
    path = next((n.removeprefix(APPLYING_NOTE) for n in notes if n.startswith(APPLYING_NOTE)), None)
    line = next((n.removeprefix(STATEMENT_LINE_NOTE) for n in notes if n.startswith(STATEMENT_LINE_NOTE)), None)
    if path is None:
        return None
    return path, int(line) if line and line.isdigit() else 1


def placed(finding: Finding, context: str) -> Finding:
    """``finding`` carrying the function and body line a CONTEXT names, for ``review`` to place.

    Until placed, ``line`` counts within the function's body (``path`` is None): ``review``
    turns it into the file line with :meth:`bcastsim.sqlmodel.Function.file_line`.
    """
    import attrs

    site = context_site(context)
    if site is None:
        return finding
    return attrs.evolve(finding, function=site[0], line=site[1])


def cut_findings(
    info: RuleInfo,
    transactions: Sequence[Sequence[str]],
    runs: Sequence[tuple[str, Sequence[TransactionResult]]],
) -> list[Finding]:
    """One ``pg-inconclusive`` finding per version whose workload a bound cut, naming every cut."""
    findings = []
    for label, results in runs:
        cut = [(index, result) for index, result in enumerate(results) if result.cut]
        if not cut:
            continue
        shown = "; ".join(
            f"transaction {index} ({'; '.join(result.cut)})" for index, result in cut[:_SHOWN_TRANSACTIONS]
        )
        more = f"; and {len(cut) - _SHOWN_TRANSACTIONS} more" if len(cut) > _SHOWN_TRANSACTIONS else ""
        index, first = cut[0]
        error = first.error or next(iter(first.statement_errors), None)
        finding = Finding(
            rule=info.id,
            severity=info.severity,
            message=(
                f"the workload was cut in {label}: {len(cut)} of {len(results)} transactions hit a bound of "
                f"the review: {shown}{more}; what was not captured was not compared"
            ),
            explanation="raise no flood of notifications or warnings and no endless statement in a trigger; "
            "the first cut transaction is the example",
            why=info.why,
            example=f"transaction {index}: " + "; ".join(transactions[index]),
        )
        findings.append(placed(finding, error.context if error is not None else ""))
    return findings


# -- refusals a PL/pgSQL exception block caught ------------------------------------------------
#
# PostgreSQL reports an error a PL/pgSQL handler caught to nobody: not to the client, not to the
# log (pl_exec.c, exec_stmt_block, rolls the subtransaction back and runs the handler). What can
# be known soundly is which functions ran (pg_stat_user_functions, track_functions = all), their
# source as the server holds it (pg_get_functiondef), which statements sit in a block whose
# handler catches a privilege error, and, asked of the server as the reviewed role, whether that
# role may run what the statement calls: a statement that needs a privilege the role lacks, in a
# block that catches the refusal, of a function that ran, was refused and the refusal hidden.

# Handler conditions that catch 42501 insufficient_privilege (its class 42 included).
_CATCHES_REFUSAL = frozenset(
    {"others", "insufficient_privilege", "42501", "syntax_error_or_access_rule_violation", "42000"}
)
_CALLED_SQL = """
SELECT p.oid, CASE WHEN s.schemaname = 'public' THEN s.funcname ELSE s.schemaname || '.' || s.funcname END
FROM pg_stat_user_functions s JOIN pg_proc p ON p.oid = s.funcid JOIN pg_language l ON l.oid = p.prolang
WHERE s.calls > 0 AND l.lanname = 'plpgsql' AND s.schemaname <> 'bcastsim_tap' ORDER BY 2
"""
_MAY_EXECUTE_SQL = """
SELECT bool_or(pg_catalog.has_function_privilege(p.oid, 'EXECUTE'))
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE p.proname = %s AND n.nspname = %s
"""
# COPY to or from a program or a server file needs one of these roles (copy.c, DoCopy).
_COPY_ROLES = {
    "program": "pg_execute_server_program",
    "from": "pg_read_server_files",
    "to": "pg_write_server_files",
}


def _handled_statements(plpgsql: Any) -> list[tuple[int, str, str, bool]]:
    """(line in the body, query, handler condition, dynamic) of each statement in a block whose handler catches 42501.

    For an ``EXECUTE`` the query is the statement it runs when its text is a constant; when the text is
    built at run time it is the expression that builds it, marked ``dynamic``.
    """
    from bcastsim.sqlmodel import executed_constant, function_root

    found: list[tuple[int, str, str, bool]] = []

    def walk(value: Any, catching: str | None) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item, catching)
            return
        if not isinstance(value, Mapping):
            return
        for kind, node in value.items():
            if not (kind.startswith("PLpgSQL_") and isinstance(node, Mapping)):
                walk(node, catching)
                continue
            if kind == "PLpgSQL_stmt_dynexecute" and catching is not None:
                line = int(node.get("lineno") or 0)
                text = str(((node.get("query") or {}).get("PLpgSQL_expr") or {}).get("query") or "")
                constant = executed_constant(text)
                found.append((line, constant if constant is not None else text, catching, constant is None))
                found.extend((line, query, catching, False) for query in _own_queries(node.get("params") or []))
            elif kind.startswith("PLpgSQL_stmt_") and catching is not None:
                found.extend((int(node.get("lineno") or 0), query, catching, False) for query in _own_queries(node))
            if kind == "PLpgSQL_stmt_block":
                handlers = ((node.get("exceptions") or {}).get("PLpgSQL_exception_block") or {}).get("exc_list") or []
                conditions = [
                    str((condition.get("PLpgSQL_condition") or {}).get("condname", "")).lower()
                    for handler in handlers
                    for condition in (handler.get("PLpgSQL_exception") or {}).get("conditions") or []
                ]
                catches = next((c for c in conditions if c in _CATCHES_REFUSAL), None)
                walk(node.get("body"), catches or catching)
                for handler in handlers:
                    walk((handler.get("PLpgSQL_exception") or {}).get("action"), catching)
            else:
                walk({key: item for key, item in node.items() if key not in ("exceptions",)}, catching)

    root = function_root(plpgsql)
    if root is not None:
        walk(root.get("action"), None)
    return found


# Where a statement holds the statements nested in it; everything else of it is its own.
_NESTED_KEYS = frozenset(
    {"body", "then_body", "else_body", "elsif_list", "stmts", "action", "case_when_list", "else_stmts", "exceptions"}
)


def _own_queries(node: Mapping[str, Any] | list[Any]) -> list[str]:
    """The SQL of one statement's expressions, not of the statements nested in it."""
    found: list[str] = []

    def visit(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                visit(item)
        elif isinstance(value, Mapping):
            expr = value.get("PLpgSQL_expr")
            if isinstance(expr, Mapping) and isinstance(expr.get("query"), str):
                found.append(expr["query"])
                return
            for key, item in value.items():
                if key not in _NESTED_KEYS:
                    visit(item)

    visit(node)
    return found


def _privileged(query: str) -> list[tuple[str, str, str]]:
    """What ``query`` runs that a privilege guards: ("function", schema, name) or ("role", role, what)."""
    import json

    from pglast import parser

    text = query.split(":=", 1)[1] if ":=" in query.split("(", 1)[0] else query
    tree = None
    for candidate in (text, f"SELECT {text}"):
        try:
            tree = json.loads(parser.parse_sql_json(candidate))
            break
        except (parser.ParseError, ValueError):
            continue
    needs: list[tuple[str, str, str]] = []

    def visit(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                visit(item)
        elif isinstance(value, Mapping):
            call = value.get("FuncCall")
            if isinstance(call, Mapping):
                names = [str((part.get("String") or {}).get("sval", "")) for part in call.get("funcname") or []]
                if names and names[-1]:
                    needs.append(("function", names[0] if len(names) > 1 else "pg_catalog", names[-1]))
            copy = value.get("CopyStmt")
            if isinstance(copy, Mapping) and (copy.get("is_program") or copy.get("filename")):
                direction = "FROM" if copy.get("is_from") else "TO"
                if copy.get("is_program"):
                    needs.append(("role", _COPY_ROLES["program"], f"COPY … {direction} PROGRAM"))
                else:
                    needs.append(("role", _COPY_ROLES[direction.lower()], f"COPY … {direction} a server file"))
            for item in value.values():
                visit(item)

    visit(tree)
    return needs


def swallowed_refusals(database: Database, info: RuleInfo, label: str, unseen: RuleInfo | None = None) -> list[Finding]:
    """``pg-needs-superuser`` for each refusal a handler of a function that ran in ``database`` would catch.

    With ``unseen``, a note of that rule for each ``EXECUTE`` of a text built at run time under such a
    handler: what it ran is not known, so whether it was refused and the refusal swallowed is not either.
    """
    import pglast

    database.execute("SELECT pg_catalog.pg_stat_force_next_flush()")  # the sender's counts, now
    rows = database.execute(_CALLED_SQL) or []
    answers: dict[tuple[str, str, str], bool | None] = {}
    findings: list[Finding] = []
    for oid, name in rows:
        source = database.execute("SELECT pg_catalog.pg_get_functiondef(%s)", (oid,))
        try:
            plpgsql = pglast.parse_plpgsql(str(source[0][0])) if source else None
        except Exception:  # pglast raises several kinds; an unreadable body is not read
            continue
        for line, query, condition, dynamic in _handled_statements(plpgsql):
            if dynamic:
                if unseen is not None:
                    message = (
                        f"{label}: EXECUTE in {name} runs a statement built at run time inside an exception block "
                        f"that catches a refusal (WHEN {condition}): PostgreSQL reports no error a handler caught, "
                        "so whether that statement was refused to the review's role, or would run unseen where it "
                        "is allowed, is not known"
                    )
                    findings.append(_at_statement(unseen, message, name, line, query))
                continue
            for need in _privileged(query):
                if need not in answers:
                    kind, first, second = need
                    if kind == "function":
                        answer = database.execute(_MAY_EXECUTE_SQL, (second, first))
                    else:
                        answer = database.execute("SELECT pg_catalog.pg_has_role(%s, 'USAGE')", (first,))
                    answers[need] = answer[0][0] if answer else None
                if answers[need] is not False:
                    continue  # allowed, or no such function: nothing was refused
                what = f"{need[2]}()" if need[0] == "function" else need[2]
                message = (
                    f"{label}: {what} in {name} is refused to the review's role, and the refusal is swallowed by "
                    f"the exception block around it (WHEN {condition}): PostgreSQL reports no error a handler "
                    "caught, so where it is allowed it runs unseen"
                )
                findings.append(_at_statement(info, message, name, line, query))
    return findings


def _at_statement(info: RuleInfo, message: str, function: str, line: int, query: str) -> Finding:
    """A finding of ``info`` at a statement of ``function``'s body, the statement as its example."""
    return Finding(
        rule=info.id,
        severity=info.severity,
        message=message,
        function=function,
        line=line,
        explanation=info.fix,
        why=info.why,
        example=" ".join(query.split())[:300],
    )
