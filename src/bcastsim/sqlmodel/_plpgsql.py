"""Notify sites in PL/pgSQL (and SQL) function bodies.

A flow-aware walk over the ``parse_plpgsql`` tree tracks, for every variable, the
definitions that can reach each statement (assignments, ``SELECT … INTO`` lookups,
declarations), the ``TG_OP`` values each branch can run under and the guarding
conditions. At each ``pg_notify``/``NOTIFY``/``realtime.send``/``realtime.broadcast_changes``
call the channel, event and payload expressions are evaluated once per (trigger table,
operation) the site can run under, and the results merged.

The layout follows that flow: ``_walk`` (statements, control flow, drafts of notify calls)
over ``_flow`` (reaching definitions, scopes, what conditions tell); ``_evaluate`` (values of
expressions and lookups) over ``_values`` and ``_pgnodes``; ``_sites`` (channel templates,
payloads, sizes); this module runs them for every function of a catalog.
"""

from __future__ import annotations

import attrs

from bcastsim._errors import InputError
from bcastsim.sqlmodel._lineage import Value
from bcastsim.sqlmodel._sites import FunctionAnalysis
from bcastsim.sqlmodel._types import (
    Catalog,
    Column,
    Diagnostic,
    NotifySite,
    Table,
)

__all__ = ["analyze_catalog"]


def analyze_catalog(catalog: Catalog) -> tuple[NotifySite, ...]:
    """Every notify site of every function, in file order; appends to ``catalog.diagnostics``."""
    sites: list[NotifySite] = []
    calls: dict[str, set[str]] = {}
    writes: dict[str, set[str]] = {}
    functions = [*catalog.functions.values(), *catalog.ran_functions.values()]
    column_values: dict[tuple[int, int], tuple[Table, Column, Value]] = {}
    for function in sorted(functions, key=lambda f: (f.location.path, f.location.line)):
        if function.name in {"realtime.send", "realtime.broadcast_changes"}:
            continue
        analysis = FunctionAnalysis(catalog, function, catalog.diagnostics, column_values)
        try:
            analysis.run()
            found = analysis.sites()
        except InputError:
            raise
        except Exception as error:  # a bug here must not hide the rest of the report
            catalog.diagnostics.append(
                Diagnostic(
                    "analysis-error",
                    f"function {function.name} could not be analysed ({type(error).__name__}: {error})",
                    function.location,
                    function.name,
                )
            )
            continue
        calls[function.name] = analysis.calls
        writes[function.name] = analysis.writes
        sites.extend(found)
    order = {path: index for index, path in enumerate(catalog.paths)}
    catalog.diagnostics.sort(key=lambda d: (order.get(d.location.path, len(order)), d.location.path, d.location.line))
    catalog.calls = {name: tuple(sorted(found)) for name, found in calls.items() if found}
    catalog.writes = {name: tuple(sorted(found)) for name, found in writes.items() if found}
    return tuple(_with_reaching_tables(sites, calls, writes, catalog))


def _with_reaching_tables(
    sites: list[NotifySite], calls: dict[str, set[str]], writes: dict[str, set[str]], catalog: Catalog
) -> list[NotifySite]:
    """Add the tables that reach a site indirectly.

    A helper function is reached from the tables whose trigger functions call it; a trigger
    function is reached from the tables whose trigger functions write into its table
    (cascading triggers).
    """
    reach: dict[str, set[str]] = {name: {t.table for t in catalog.triggers_for(name)} for name in catalog.functions}
    # The functions the triggers on each written table run, looked up once per table, not once per write.
    run_on: dict[str, set[str]] = {}
    for table in {table for found in writes.values() for table in found}:
        run_on[table] = {t.function for t in catalog.triggers_on(table)}
    changed = True
    while changed:
        changed = False
        for name in sorted(reach):
            targets = set(calls.get(name, ()))
            for table in writes.get(name, ()):
                targets.update(run_on[table])
            for target in sorted(targets):
                if target in reach and not reach[name] <= reach[target]:
                    reach[target] |= reach[name]
                    changed = True
    result = []
    for site in sites:
        extra = sorted(reach.get(site.function, set()) - set(site.tables))
        result.append(attrs.evolve(site, tables=(*site.tables, *extra)) if extra else site)
    return result
