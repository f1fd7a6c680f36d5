"""Messages reach only the audience they are about: an order's topic is its own and private."""

from __future__ import annotations

from hypothesis import given

from bcastsim.db import load_schema
from bcastsim.pg import Database
from bcastsim.strategies import History, histories
from conftest import SQL_FILES

SCHEMA = load_schema(SQL_FILES)


@given(history=histories(SCHEMA))
def test_order_messages_go_to_that_order_only(bcastsim_shared_db: Database, history: History) -> None:
    """An order message is private and its topic names the order in its payload; stock news is public and low."""
    bcastsim_shared_db.reset()
    for spec in history.transactions:
        result = bcastsim_shared_db.run_transaction(spec.steps, commit=spec.commit)
        for message in result.messages:
            assert isinstance(message.payload, dict)
            if message.topic.startswith("order:"):
                assert message.private is True
                assert message.topic == f"order:{message.payload['id']}"
            else:
                assert message.topic.startswith("stock:")
                assert message.private is False
                assert message.payload["quantity"] < 5
