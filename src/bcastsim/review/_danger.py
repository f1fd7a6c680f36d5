"""Rules for statements that need a superuser: on a stranger's pull request, an escalation attempt.

The catalog records each such statement or call wherever it sits (``sqlmodel._privileged``: top
level, ``DO`` bodies, function bodies, ``EXECUTE`` of a constant); each kind is a rule here, at
error level, that a ``-- bcastsim: ignore[...]`` comment in the reviewed files cannot silence
(``_suppress.UNSUPPRESSIBLE``). In a review they are reported when the new version adds one.
What each statement needs, and the PostgreSQL source that says so: ``docs/review.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from bcastsim.findings import Finding, Severity

if TYPE_CHECKING:
    from bcastsim.review._rules import Rule, RuleContext

__all__ = ["PRIVILEGE_RULE_IDS", "UNSUPPRESSIBLE", "privilege_rules"]

_ESCALATION = "on a stranger's pull request this is an escalation attempt"

# id → (title, what it needs, why it matters, fix)
_RULES: dict[str, tuple[str, str, str, str]] = {
    "copy-program": (
        "COPY … TO/FROM PROGRAM runs a shell command on the database server",
        "needs superuser or the pg_execute_server_program role",
        "COPY … PROGRAM runs any command as the operating-system user of the PostgreSQL server.",
        "remove it: migrations and triggers have no business running programs on the server",
    ),
    "copy-server-file": (
        "COPY … TO/FROM a file on the database server",
        "needs superuser or the pg_read_server_files / pg_write_server_files role",
        "COPY with a file name reads or writes any file the server's operating-system user can reach.",
        "load data with COPY … FROM STDIN (psql's \\copy) from the client instead",
    ),
    "server-file-access": (
        "Reads the server's files or directories (pg_read_file, pg_ls_dir, pg_stat_file, adminpack)",
        "needs superuser or an explicit GRANT EXECUTE (PostgreSQL revokes them from PUBLIC)",
        "These functions read files and list directories of the database server: configuration, keys, "
        "other databases' data.",
        "remove the call; data the application needs belongs in a table",
    ),
    "large-object-file": (
        "Server-side lo_import / lo_export move files between the server's disk and the database",
        "needs superuser or an explicit GRANT EXECUTE (PostgreSQL revokes them from PUBLIC)",
        "The server-side large-object functions read and write files on the database server as its "
        "operating-system user.",
        "use the client-side \\lo_import / \\lo_export of psql, or the driver's large-object API",
    ),
    "alter-system": (
        "ALTER SYSTEM rewrites the server's configuration",
        "needs superuser or GRANT ALTER SYSTEM ON PARAMETER",
        "ALTER SYSTEM writes postgresql.auto.conf: settings such as archive_command or "
        "shared_preload_libraries run programs and load code at the next reload or restart.",
        "change server settings through the platform's configuration, never from a migration",
    ),
    "dangerous-extension": (
        "CREATE EXTENSION of an untrusted extension that reaches files or the network",
        "needs superuser (the extension is not marked trusted)",
        "adminpack writes server files, file_fdw reads them, dblink and postgres_fdw open connections "
        "from the database server.",
        "install such extensions by hand, as the platform's administrator, not in reviewed SQL",
    ),
    "untrusted-language": (
        "Code in an untrusted language (C, plpython3u, plperlu, pltclu, …)",
        "needs superuser (untrusted languages run with the server's operating-system rights)",
        "A function in an untrusted language can do anything the database server's operating-system "
        "user can: read files, run programs, open connections.",
        "write it in plpgsql or SQL",
    ),
    "set-role": (
        "SET ROLE / SET SESSION AUTHORIZATION (or set_config('role', …)) changes who the SQL runs as",
        "needs membership of the role, or a superuser session for SET SESSION AUTHORIZATION",
        "A change of role makes what follows run with another role's rights: the statements after it are "
        "not judged as the migration's own role.",
        "run the migration as the role it needs; grant rights with GRANT instead of switching roles",
    ),
    "dblink": (
        "dblink opens a connection from the database server",
        "needs superuser for a password-less connection (dblink refuses other roles one)",
        "dblink connects from the server to any host it can reach, including itself as another role.",
        "move the cross-database work into the application, or a job the operator runs",
    ),
    "grant-privileged-role": (
        "GRANT of a role that runs programs, reads or writes server files, signals other sessions, or is a superuser",
        "needs superuser, CREATEROLE or ADMIN OPTION on the role (PostgreSQL 15)",
        "Members of pg_execute_server_program, pg_read_server_files and pg_write_server_files run programs and "
        "reach files on the database server (COPY … PROGRAM, COPY to a file); members of pg_signal_backend "
        "cancel and terminate other roles' sessions, Realtime's included; a member of a superuser role "
        "is one.",
        "remove the GRANT: grant the application's roles rights on its own tables and functions instead",
    ),
    "privileged-role-attribute": (
        "A role created or altered with SUPERUSER, BYPASSRLS, REPLICATION or CREATEROLE",
        "needs superuser (SUPERUSER, BYPASSRLS, REPLICATION) or CREATEROLE (CREATEROLE)",
        "SUPERUSER skips every check; BYPASSRLS reads every row past row-level security, the policies private "
        "channels are authorized by included; REPLICATION streams every change of the database; in PostgreSQL 15 "
        "CREATEROLE may grant itself the roles that run programs on the server.",
        "create the application's roles without these attributes; an administrator sets them, by hand",
    ),
    "event-trigger": (
        "CREATE EVENT TRIGGER runs a function on every DDL statement of every role",
        "needs superuser",
        "An event trigger fires for the DDL of every role of the database, the administrator's and the "
        "platform's included, and runs its function as whoever issued the statement.",
        "remove it: audit DDL with the platform's logging, not with a trigger a migration installs",
    ),
}

PRIVILEGE_RULE_IDS: frozenset[str] = frozenset(_RULES)
# Privilege and containment findings (these rules and --pg's): the reviewed files are a pull request's, so
# neither a comment in them nor the configuration beside them (``disable``, ``enable``, ``severity``) may
# hide its own COPY … PROGRAM, the flood or endless loop that stopped the comparison, or the SQL that broke
# the review's sessions.
UNSUPPRESSIBLE: frozenset[str] = frozenset(
    {"pg-needs-superuser", "pg-inconclusive", "pg-load-failed", *PRIVILEGE_RULE_IDS}
)


def _check(ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    needs = _RULES[rule.id][1]
    for use in ctx.catalog.privileged:
        if use.kind != rule.id:
            continue
        where = f" {use.context}" if use.context else ""
        swallowed = (
            f"; a refusal here would be swallowed by the EXCEPTION at line {use.swallowed_at}, so the "
            "statement fails without a trace"
            if use.swallowed_at is not None
            else ""
        )
        yield rule.finding(
            ctx,
            f"{use.what}{where}: {needs}; {_ESCALATION}{swallowed}",
            path=use.location.path,
            line=use.location.line,
            function=use.function,
        )


def privilege_rules(make: Callable[..., Rule]) -> tuple[Rule, ...]:
    """The rules, built by ``make`` (the :class:`~bcastsim.review._rules.Rule` class, which imports this module)."""
    return tuple(
        make(
            id=rule_id,
            severity=Severity.ERROR,
            title=title,
            why=f"{why} It {needs}; {_ESCALATION}. A comment in the reviewed files cannot suppress it.",
            fix=fix,
            check=_check,
        )
        for rule_id, (title, needs, why, fix) in _RULES.items()
    )
