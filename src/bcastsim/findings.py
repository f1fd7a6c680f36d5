"""Findings: what every checker and rule reports, in one shape.

A finding says what (``rule``, ``message``), where (``path``/``line`` or
``channel``/``function``), why it matters (``why``), how to fix it and
how to reproduce it (``example``: a seed, a minimal Hypothesis example, SQL).

How to fix it is one of two things. A ``patch`` is a unified diff of the user's file that a
test has applied, with ``fix`` saying in one line what it changes. Where no mechanical
change is right (a design choice: which topic, which audience, what a page needs), there is
no patch and the advice is an ``explanation``, never labelled a fix. Checkers whose advice is
not about a file (client and simulation properties) keep a prose ``fix``.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

__all__ = ["Finding", "Severity"]


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"

    @property
    def rank(self) -> int:
        return {"error": 0, "warning": 1, "note": 2}[self.value]


@attrs.frozen(kw_only=True)
class Finding:
    rule: str
    severity: Severity
    message: str
    path: str | None = None
    line: int | None = None
    channel: str | None = None
    function: str | None = None
    fix: str | None = None
    why: str | None = None
    example: str | None = None
    #: a unified diff of the file at ``path`` that removes the finding; ``fix`` summarises it
    patch: str | None = None
    #: advice where no mechanical patch is right
    explanation: str | None = None

    def sort_key(self) -> tuple[int, str, int, str, str]:
        return (self.severity.rank, self.path or "", self.line or 0, self.rule, self.message)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "message": self.message,
            "path": self.path,
            "line": self.line,
            "channel": self.channel,
            "function": self.function,
            "fix": self.fix,
            "why": self.why,
            "example": self.example,
            "patch": self.patch,
            "explanation": self.explanation,
        }
