"""Read PostgreSQL schema and trigger SQL into typed objects.

``load_catalog(paths)`` applies SQL files in order (``CREATE TABLE``, ``CREATE [OR
REPLACE] FUNCTION``, ``CREATE TRIGGER``, ``DROP``, ``ALTER TABLE … ENABLE/DISABLE
TRIGGER``) and returns a :class:`Catalog`; ``catalog.notify_sites`` lists every
``pg_notify`` / ``NOTIFY`` / ``realtime.send`` / ``realtime.broadcast_changes`` call in
the PL/pgSQL functions, with its channel template, payload fields and their lineage.
"""

from bcastsim.sqlmodel._bounds import SqlLimits
from bcastsim.sqlmodel._catalog import load_catalog, load_catalog_text, parser_nodes_trusted
from bcastsim.sqlmodel._cfg import (
    ALL_OPERATIONS,
    CfgNode,
    ControlFlowGraph,
    PathFacts,
    RowRead,
    build_cfg,
    expression_reads,
    first_lineno,
    function_root,
    graphs_kept,
    may_read,
    parse_condition,
    statement_reads,
    tg_op_truth,
)
from bcastsim.sqlmodel._lineage import object_bytes
from bcastsim.sqlmodel._migrations import CONVENTIONS, order_directory
from bcastsim.sqlmodel._privileged import PRIVILEGED_KINDS, executed_constant
from bcastsim.sqlmodel._psql import strip_psql
from bcastsim.sqlmodel._typenames import normalize_type
from bcastsim.sqlmodel._types import (
    Catalog,
    Column,
    ColumnRef,
    Diagnostic,
    Function,
    Hole,
    NotifySite,
    Parameter,
    PayloadField,
    PrivilegedUse,
    SourceLocation,
    Table,
    Template,
    Transport,
    Trigger,
)

__all__ = [
    "ALL_OPERATIONS",
    "CONVENTIONS",
    "PRIVILEGED_KINDS",
    "Catalog",
    "CfgNode",
    "Column",
    "ColumnRef",
    "ControlFlowGraph",
    "Diagnostic",
    "Function",
    "Hole",
    "NotifySite",
    "Parameter",
    "PathFacts",
    "PayloadField",
    "PrivilegedUse",
    "RowRead",
    "SourceLocation",
    "SqlLimits",
    "Table",
    "Template",
    "Transport",
    "Trigger",
    "build_cfg",
    "executed_constant",
    "expression_reads",
    "first_lineno",
    "function_root",
    "graphs_kept",
    "load_catalog",
    "load_catalog_text",
    "may_read",
    "normalize_type",
    "object_bytes",
    "order_directory",
    "parse_condition",
    "parser_nodes_trusted",
    "statement_reads",
    "strip_psql",
    "tg_op_truth",
]
