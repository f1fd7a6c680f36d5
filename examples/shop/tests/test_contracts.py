"""Every message PostgreSQL sends matches the contract bcastsim reads from the triggers."""

from __future__ import annotations

import re

import jsonschema
from hypothesis import given

from bcastsim.contracts import build_contracts
from bcastsim.db import load_schema
from bcastsim.pg import Database
from bcastsim.sqlmodel import load_catalog
from bcastsim.strategies import History, histories
from conftest import SQL_FILES

CONTRACTS = build_contracts(load_catalog(SQL_FILES))
SCHEMA = load_schema(SQL_FILES)


def _contract_for(channel: str, event: str | None) -> dict[str, object]:
    for contract in CONTRACTS:
        event_regex = contract.event_regex
        if re.fullmatch(contract.channel_regex, channel) and (
            event is None or event_regex is None or re.fullmatch(event_regex, event)
        ):
            return contract.schema
    raise AssertionError(f"no contract for channel {channel!r} event {event!r}")


@given(history=histories(SCHEMA))
def test_every_message_matches_its_json_schema(bcastsim_shared_db: Database, history: History) -> None:
    """realtime.send payloads and pg_notify payloads validate against their contract's JSON Schema."""
    bcastsim_shared_db.reset()
    for spec in history.transactions:
        result = bcastsim_shared_db.run_transaction(spec.steps, commit=spec.commit)
        for message in result.messages:
            jsonschema.validate(message.payload, _contract_for(message.topic, message.event))
        for notification in result.notifications:
            jsonschema.validate(notification.json, _contract_for(notification.channel, None))
