"""An executable, deterministic model of the database side of a broadcast system.

The model reads the same SQL files PostgreSQL runs (tables, PL/pgSQL trigger
functions, triggers) and executes them: rows with defaults and constraints,
triggers in PostgreSQL's firing order, ``pg_notify`` with its queue semantics
(commit-only delivery, savepoints, duplicate collapse, byte limits) and
``realtime.send`` / ``realtime.messages``. Nothing in it is specific to one
trigger: change the SQL and the model's output changes.

>>> from bcastsim.db import DatabaseModel                                  # doctest: +SKIP
>>> model = DatabaseModel.from_sql()            # the built-in sql/ files
>>> outcome = model.run_transaction(["INSERT INTO people (id) VALUES ('…')"])
>>> outcome.notifications, outcome.error
"""

from bcastsim.db._differential import CLOCK_STEP, Differential, Mismatch, observed
from bcastsim.db._notify import ModelMessage, ModelNotification
from bcastsim.db._render import cast_to_text, escape_json, json_value_text, jsonb_text, output_text
from bcastsim.db._schema import Schema, load_schema
from bcastsim.db._txn import DatabaseModel, StepError, SteppingClock, Transaction, TransactionOutcome
from bcastsim.db._values import DatabaseError, Json, Jsonb, Record

__all__ = [
    "CLOCK_STEP",
    "DatabaseError",
    "DatabaseModel",
    "Differential",
    "Json",
    "Jsonb",
    "Mismatch",
    "ModelMessage",
    "ModelNotification",
    "Record",
    "Schema",
    "StepError",
    "SteppingClock",
    "Transaction",
    "TransactionOutcome",
    "cast_to_text",
    "escape_json",
    "json_value_text",
    "jsonb_text",
    "load_schema",
    "observed",
    "output_text",
]
