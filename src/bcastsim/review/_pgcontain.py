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
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bcastsim.findings import Finding

if TYPE_CHECKING:
    from bcastsim.pg import TransactionResult
    from bcastsim.review._report import RuleInfo

__all__ = ["context_site", "cut_findings", "load_site"]

# One frame of PostgreSQL's CONTEXT for PL/pgSQL (pl_exec.c, plpgsql_exec_error_callback):
# "PL/pgSQL function NAME(ARGS) line N at WHAT". DO blocks are "inline_code_block".
_PLPGSQL_FRAME = re.compile(r"^PL/pgSQL function (?P<name>[^(\s]+)\([^)]*\) line (?P<line>\d+)", re.MULTILINE)
_SHOWN_TRANSACTIONS = 3
# Frames that are the transport, not the statement that used it: Supabase's realtime.send /
# broadcast_changes (a message is placed at the call of realtime.send).
_TRANSPORT_SCHEMAS = ("realtime.",)


def context_site(context: str) -> tuple[str, int] | None:
    """(function, line in its body) of the innermost PL/pgSQL frame of a CONTEXT that is the SQL's own."""
    for match in _PLPGSQL_FRAME.finditer(context):
        name = match.group("name")
        if name != "inline_code_block" and not name.startswith(_TRANSPORT_SCHEMAS):
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
            fix="raise no flood of notifications or warnings and no endless statement in a trigger; "
            "the first cut transaction is the example",
            why=info.why,
            example=f"transaction {index}: " + "; ".join(transactions[index]),
        )
        findings.append(placed(finding, error.context if error is not None else ""))
    return findings
