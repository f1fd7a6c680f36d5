"""A real, throwaway PostgreSQL for tests and checks, and capture of what it notifies.

>>> with EphemeralPostgres.start() as server:                      # doctest: +SKIP
...     db = server.create_database(builtin_sql_files())
...     result = db.run_transaction(["INSERT INTO bids ..."])
...     [n.channel for n in result.notifications]
"""

from bcastsim.pg._binaries import PgBinaries, PgBinariesNotFound, find_binaries
from bcastsim.pg._capture import (
    APPLYING_NOTE,
    Database,
    Notification,
    PgError,
    RealtimeMessage,
    Release,
    RollbackTo,
    Savepoint,
    Step,
    TransactionResult,
)
from bcastsim.pg._server import HARNESS_EXTENSIONS, UNTRUSTED_ROLE, EphemeralPostgres, ServerStartError

__all__ = [
    "APPLYING_NOTE",
    "HARNESS_EXTENSIONS",
    "UNTRUSTED_ROLE",
    "Database",
    "EphemeralPostgres",
    "Notification",
    "PgBinaries",
    "PgBinariesNotFound",
    "PgError",
    "RealtimeMessage",
    "Release",
    "RollbackTo",
    "Savepoint",
    "ServerStartError",
    "Step",
    "TransactionResult",
    "find_binaries",
]
