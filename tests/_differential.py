"""A model/PostgreSQL pair for a test, its connection handed back when the test is done."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from bcastsim.db import DatabaseModel, Differential
from bcastsim.pg import Database

Factory = Callable[[Sequence[str | Path]], Database]


@contextlib.contextmanager
def differential_of(factory: Factory, files: Sequence[str | Path]) -> Iterator[Differential]:
    """The model of ``files`` beside a fresh database loaded with them."""
    differential = Differential.for_tables(factory(files), DatabaseModel.from_sql(files))
    try:
        yield differential
    finally:
        differential.close()
        # The server allows few connections: a session-scoped factory would otherwise hold them all to the end.
        differential.database.close()
