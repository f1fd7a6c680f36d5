"""Supabase Realtime plan limits: the built-in Free / Pro / Pro without spend cap / Team (and the
Enterprise template) in ``models/plans.toml``, and the user's own.

The TOML file is the only copy of the published numbers. A user's plans file (an enterprise
contract, say) adds plans beside them; each plan gives the five enforced limits or names a plan it
``extends`` and overrides some. The presence and postgres_changes payload limits are optional (not
given: not enforced), and ``realtime`` names the Realtime version whose rules judge the limits
(``models/realtime/``; "" = the scenario's, else the newest). A table with ``template = true`` (the
built-in ``enterprise``) can be extended but not run. The realtime-js port's server enforces the limits per connection
and channel; the simulator enforces them per client group and adds the ``unlimited``
pseudo-plan, which separates what an architecture asks of Realtime from what a plan lets through.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from bcastsim._errors import InputError
from bcastsim._resources import builtin_models_dir
from bcastsim._toml import Range, check_number, line_of, read_toml

__all__ = ["UNLIMITED", "PlanLimits", "PlanSet", "load_plans", "resolve_plans"]


@attrs.frozen
class PlanLimits:
    """One plan's limits; ``math.inf`` where a limit does not apply."""

    name: str
    connections: float
    messages_per_second: float  # fan-out counts: one broadcast to N subscribers is N messages
    channel_joins_per_second: float
    channels_per_connection: float
    payload_bytes: float
    presence_messages_per_second: float = math.inf
    presence_keys_per_object: float = math.inf
    postgres_changes_payload_bytes: float = math.inf
    realtime: str = ""  # the Realtime version whose rules apply ("" = the scenario's, else the newest)

    def describe(self) -> str:
        if self.name == UNLIMITED.name:
            return "unlimited (no plan limits enforced)"

        def n(value: float) -> str:
            return "∞" if math.isinf(value) else f"{value:,.0f}"

        return (
            f"{self.name}: {n(self.connections)} connections · {n(self.messages_per_second)} msg/s · "
            f"{n(self.channel_joins_per_second)} joins/s · {n(self.channels_per_connection)} channels/connection · "
            f"{n(self.payload_bytes / 1000)} KB payload"
        )


UNLIMITED = PlanLimits("unlimited", math.inf, math.inf, math.inf, math.inf, math.inf)

# Published limits are far below this; beyond it a float no longer holds every integer.
_LIMIT_RANGE = Range(1, 2**53)
_OPTIONAL_KEYS = ("presence_messages_per_second", "presence_keys_per_object", "postgres_changes_payload_bytes")
_PLAN_KEYS = tuple(
    field.name for field in attrs.fields(PlanLimits) if field.name not in {"name", "realtime", *_OPTIONAL_KEYS}
)
_EXTENDS = "extends"
_TEMPLATE = "template"
_REALTIME = "realtime"
_ALL_KEYS = (*_PLAN_KEYS, *_OPTIONAL_KEYS, _REALTIME, _EXTENDS, _TEMPLATE)
_MAX_EXTENDS = 32  # a longer chain is hostile (each link is a recursion) or a mistake


def _builtin_path() -> Path:
    return builtin_models_dir() / "plans.toml"


def load_plans(
    path: Path | None = None, *, include_unlimited: bool = False, include_templates: bool = False
) -> dict[str, PlanLimits]:
    """Plans by lower-case name, one ``[plan]`` table each, from ``models/plans.toml`` or ``path``.

    Every top-level table is a plan and gives the five enforced limits as positive integers, or
    names a plan it ``extends`` (a built-in, a built-in template or another plan of the same file)
    and gives only the limits it changes. ``include_unlimited`` adds :data:`UNLIMITED` under its
    name; ``include_templates`` keeps the tables marked ``template = true`` (only to extend them).
    """
    builtin = path is None
    path = _builtin_path() if path is None else path
    text, data = read_toml(path, "plan limits")
    templates: set[str] = set()
    plans = _parse(
        data, path=path, text=text, bases={} if builtin else load_plans(include_templates=True), templates=templates
    )
    if not include_templates:
        plans = {name: plan for name, plan in plans.items() if name not in templates}
    if include_unlimited:
        plans[UNLIMITED.name] = UNLIMITED
    return plans


@attrs.frozen
class PlanSet(Mapping[str, PlanLimits]):
    """The plans a run may name: the built-ins, ``unlimited`` and the plans of the user's file, if any.

    A user's plan of a built-in's name replaces it. :meth:`get_plan` turns an unknown name into
    one line that lists what the user's file and the built-ins offer.
    """

    plans: Mapping[str, PlanLimits]
    source: str = ""  # the user's plans file ("" = built-ins only)
    own: tuple[str, ...] = ()  # the names the user's file defines, in its order

    def __getitem__(self, name: str) -> PlanLimits:
        return self.plans[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.plans)

    def __len__(self) -> int:
        return len(self.plans)

    def get_plan(self, name: str, *, option: str = "--plan") -> PlanLimits:
        key = name.lower()
        if key in self.plans:
            return self.plans[key]
        builtin = sorted(k for k in self.plans if k not in self.own)
        offered = f"built in: {', '.join(builtin)}"
        if self.source:
            offered = f"in {self.source}: {', '.join(self.own) or 'none'}; " + offered
        raise InputError(f'unknown plan "{name}" ({offered})', fix=f"give {option} one of those names")


def resolve_plans(plans: str | Path | Mapping[str, Any] | None = None, *, relative_to: Path | None = None) -> PlanSet:
    """The built-in plans (with ``unlimited``) plus the user's: a plans file or a mapping.

    A path is read relative to ``relative_to`` (the scenario file's directory) when it is not
    absolute. A mapping holds :class:`PlanLimits` or tables shaped like the file's.
    """
    base = load_plans(include_unlimited=True)
    if plans is None:
        return PlanSet(base)
    bases = load_plans(include_unlimited=True, include_templates=True)
    if isinstance(plans, Mapping):
        tables = {name: attrs.asdict(p) if isinstance(p, PlanLimits) else p for name, p in plans.items()}
        # A PlanLimits' unset optional limits (inf) and version ("") are what a table leaves out.
        tables = {name: {k: v for k, v in t.items() if k != "name" and not _unset(v)} for name, t in tables.items()}
        own = _parse(tables, path="<plans mapping>", text="", bases=bases)
        return PlanSet({**base, **own}, source="<plans mapping>", own=tuple(own))
    path = Path(plans)
    if relative_to is not None and not path.is_absolute():
        path = relative_to / path
    text, data = read_toml(path, "plan limits")
    own = _parse(data, path=path, text=text, bases=bases)
    return PlanSet({**base, **own}, source=str(path), own=tuple(own))


def _unset(value: object) -> bool:
    return value == "" or (isinstance(value, float) and math.isinf(value))


def _parse(
    data: Mapping[str, Any],
    *,
    path: str | Path,
    text: str,
    bases: Mapping[str, PlanLimits],
    templates: set[str] | None = None,
) -> dict[str, PlanLimits]:
    tables: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, table in data.items():
        line = line_of(text, name, "")
        if not isinstance(table, Mapping):
            raise InputError(
                f"{name!r} is not a plan table", path=path, line=line_of(text, None, name), fix=f"write it as [{name}]"
            )
        key = name.lower()
        if key == UNLIMITED.name or key in tables:
            why = "is reserved for the unlimited pseudo-plan" if key == UNLIMITED.name else "is defined twice"
            raise InputError(f"plan name {key!r} {why}", path=path, line=line, fix="rename the plan")
        unknown = sorted(set(table) - set(_ALL_KEYS))
        if unknown:
            raise InputError(
                f"plan {name!r}: unknown key {unknown[0]!r}",
                path=path,
                line=line_of(text, name, unknown[0]),
                fix=f"the keys of a plan are {', '.join(_ALL_KEYS)}",
            )
        if table.get(_TEMPLATE, False) is not False:
            if table[_TEMPLATE] is not True:
                raise InputError(
                    f"plan {name!r}: {_TEMPLATE} must be true or false",
                    path=path,
                    line=line_of(text, name, _TEMPLATE),
                    fix=f"{_TEMPLATE} = true",
                )
            if templates is not None:
                templates.add(key)
        if _REALTIME in table:
            _check_realtime(table[_REALTIME], name, path, text)
        tables[key] = (name, dict(table))
    plans: dict[str, PlanLimits] = {}
    for key in tables:
        _build(key, tables, plans, bases, path=path, text=text, chain=())
    return plans


def _build(
    key: str,
    tables: Mapping[str, tuple[str, dict[str, Any]]],
    plans: dict[str, PlanLimits],
    bases: Mapping[str, PlanLimits],
    *,
    path: str | Path,
    text: str,
    chain: tuple[str, ...],
) -> PlanLimits:
    """One plan of the file, after the plan it extends (a plan of the same file first, then a built-in)."""
    if key in plans:
        return plans[key]
    name, table = tables[key]
    if len(chain) >= _MAX_EXTENDS:
        raise InputError(
            f"plan {tables[chain[0]][0]!r} starts a chain of more than {_MAX_EXTENDS} extends; bcastsim follows "
            f"{_MAX_EXTENDS}",
            path=path,
            line=line_of(text, name, _EXTENDS),
            fix="extend a built-in plan directly",
        )
    parent: PlanLimits | None = None
    if _EXTENDS in table:
        wanted = table[_EXTENDS]
        line = line_of(text, name, _EXTENDS)
        if not isinstance(wanted, str):
            raise InputError(
                f"plan {name!r}: {_EXTENDS} must be a plan name", path=path, line=line, fix='e.g. extends = "team"'
            )
        base = wanted.lower()
        if base == key and base in bases and base != UNLIMITED.name:
            parent = bases[base]  # [team] extends = "team": the built-in team, changed for this file's runs
        elif base == key:
            raise InputError(f"plan {name!r} extends itself", path=path, line=line, fix="remove the cycle")
        elif base in chain:
            raise InputError(
                f"plan {name!r} extends {wanted!r}, which extends it back", path=path, line=line, fix="remove the cycle"
            )
        elif base in tables:
            parent = _build(base, tables, plans, bases, path=path, text=text, chain=(*chain, key))
        elif base in bases and base != UNLIMITED.name:
            parent = bases[base]
        else:
            offered = sorted({*tables, *bases} - {key, UNLIMITED.name})
            raise InputError(
                f"plan {name!r} extends unknown plan {wanted!r}",
                path=path,
                line=line,
                fix=f"extend one of {', '.join(offered)}",
            )
    values = []
    for limit in _PLAN_KEYS:
        if limit in table or parent is None:
            values.append(_limit(table, limit, name, path, text))
        else:
            values.append(getattr(parent, limit))
    optional = {
        limit: _limit(table, limit, name, path, text)
        if limit in table
        else (getattr(parent, limit) if parent is not None else math.inf)
        for limit in _OPTIONAL_KEYS
    }
    realtime = str(table.get(_REALTIME, parent.realtime if parent is not None else ""))
    connections, messages, joins, channels, payload = values
    plans[key] = PlanLimits(
        key,
        connections,
        messages,
        joins,
        channels,
        payload,
        presence_messages_per_second=optional["presence_messages_per_second"],
        presence_keys_per_object=optional["presence_keys_per_object"],
        postgres_changes_payload_bytes=optional["postgres_changes_payload_bytes"],
        realtime=realtime,
    )
    return plans[key]


def _check_realtime(value: object, plan: str, path: str | Path, text: str) -> None:
    from bcastsim.sim._realtime_rules import realtime_versions

    if not isinstance(value, str) or value not in realtime_versions():
        raise InputError(
            f"plan {plan!r}: unknown Realtime version {value!r}",
            path=path,
            line=line_of(text, plan, _REALTIME),
            fix=f"give one of {', '.join(realtime_versions())} (models/realtime/), or leave it out for the newest",
        )


def _limit(table: Mapping[str, Any], key: str, plan: str, path: str | Path, text: str) -> float:
    value = table.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        line = line_of(text, plan, key if key in table else "")
        shown = "" if key in table else " (missing)"
        if isinstance(value, float) and not math.isfinite(value):
            shown = f", got {value}"
        fix = f"give every plan all five limits ({', '.join(_PLAN_KEYS)}) or extends = a plan to take the rest from"
        if key in table:
            fix = f"e.g. {key} = 1000; a limit that does not apply to you is a large number, not inf"
        raise InputError(f"plan {plan!r}: {key} must be a positive integer{shown}", path=path, line=line, fix=fix)
    check_number(value, f"{plan}.{key}", _LIMIT_RANGE, path=path, line=line_of(text, plan, key))
    # Floats throughout, so the unlimited plan's infinities and the published limits compare and print alike.
    return float(value)
