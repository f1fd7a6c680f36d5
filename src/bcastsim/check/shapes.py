"""Payload shapes: what arrives (or what a listener reads) against the contracts' JSON Schemas."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import jsonschema

from bcastsim.findings import Finding, Severity

__all__ = ["ENVELOPE_SCHEMA", "HasSchema", "check_payload_shapes", "schema_errors"]

# What a realtime-js broadcast callback receives.
ENVELOPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "event", "payload"],
    "properties": {
        "type": {"const": "broadcast"},
        "event": {"type": "string"},
        "payload": {"type": "object"},
        "meta": {"type": "object", "properties": {"id": {}}},
    },
}


class HasSchema(Protocol):
    @property
    def message_type(self) -> str: ...

    @property
    def channel_pattern(self) -> str: ...

    @property
    def schema(self) -> dict[str, Any]: ...


def schema_errors(value: Any, schema: Mapping[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(dict(schema), format_checker=jsonschema.FormatChecker())
    return sorted(
        f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}"
        for error in validator.iter_errors(value)
    )


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{[^}]*\}", template)
    return re.compile("^" + "[^:]+".join(re.escape(p) for p in parts) + "$")


def check_payload_shapes(
    observed: Iterable[tuple[str, str, Any]],
    contracts: Iterable[HasSchema],
    *,
    rule: str = "client.payload-shape",
) -> list[Finding]:
    """One finding per (topic pattern, message type) whose observed values break the contract's schema.

    ``observed`` holds ``(topic, message_type, value)``; a value is matched to the contract of its
    message type whose channel pattern matches the topic (or, failing that, any of its message type).
    """
    contracts = list(contracts)
    findings: dict[tuple[str, str], Finding] = {}
    for topic, message_type, value in observed:
        candidates = [c for c in contracts if c.message_type == message_type]
        matching = [c for c in candidates if _pattern(c.channel_pattern).match(topic)] or candidates
        if not matching:
            continue
        contract = matching[0]
        key = (contract.channel_pattern, message_type)
        if key in findings:
            continue
        errors = schema_errors(value, contract.schema)
        if errors:
            findings[key] = Finding(
                rule=rule,
                severity=Severity.ERROR,
                message=f"{message_type} on {topic}: what the callback reads does not match the contract "
                f"({len(errors)} problems; first: {errors[0]})",
                channel=contract.channel_pattern,
                why="a callback that reads fields the contract does not put there reads undefined",
                fix="read the payload (envelope.payload), which the contract describes",
                example=repr(value),
            )
    return [findings[k] for k in sorted(findings)]
