"""The text of a sweep: ``key=a..b[:N|:+S]`` or ``key=a,b,c``, and ``section.key=value`` settings.

A range without a suffix has every whole number from ``a`` to ``b`` when there are at most
:data:`DEFAULT_POINTS` of them, else that many evenly spaced points; ``:N`` asks for ``N``
evenly spaced points, ``:+S`` for every ``S``-th value. Both ends are always included.
"""

from __future__ import annotations

import math
import tomllib
from typing import TYPE_CHECKING, Any

import attrs

from bcastsim._errors import InputError

if TYPE_CHECKING:
    from bcastsim.sim._scenario import Scenario

__all__ = ["DEFAULT_POINTS", "check_setting", "parse_setting", "parse_sweep", "toml_value"]

DEFAULT_POINTS = 8
_WHOLE = ("clients", "seed")  # keys whose values are whole numbers
_WORDS = ("plan", "profile", "architectures")  # keys whose values are names


def _fail(text: str, why: str, option: str = "--sweep") -> InputError:
    return InputError(
        f"{option} {text!r}: {why}",
        fix="e.g. --sweep clients=500..10000:8, seed=1..4, plan=pro,team or network.median_ms=20..80:+20",
    )


def parse_sweep(text: str) -> tuple[str, list[Any]]:
    """One ``--sweep`` argument as its key and values in order."""
    key, sep, spec = text.partition("=")
    key = key.strip()
    spec = spec.strip()
    if not sep or not key or not spec:
        raise _fail(text, "not KEY=VALUES")
    if ".." in spec and key not in _WORDS:
        return key, _range(text, key, spec)
    values = [part.strip() for part in spec.split(",")]
    if any(not v for v in values):
        raise _fail(text, "an empty value in the list")
    parsed = [_value(text, key, v) for v in values]
    if len(set(map(repr, parsed))) != len(parsed):
        raise _fail(text, "a value is listed twice")
    return key, parsed


def _value(text: str, key: str, raw: str) -> Any:
    if key in _WORDS:
        return raw
    value = _scalar(raw)
    if key in _WHOLE and (isinstance(value, bool) or not isinstance(value, int)):
        raise _fail(text, f"{raw!r} is not a whole number")
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail(text, f"{raw!r} is not a finite number")
    return value


def _scalar(raw: str) -> Any:
    """A TOML value (``20``, ``0.5``, ``true``, ``"x"``); anything else is the bare word itself."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _range(text: str, key: str, spec: str) -> list[Any]:
    ends, colon, suffix = spec.partition(":")
    first_text, _, last_text = ends.partition("..")
    first, last = _number(text, first_text), _number(text, last_text)
    if last < first:
        raise _fail(text, "the range runs backwards")
    whole = isinstance(first, int) and isinstance(last, int)
    if key in _WHOLE and not whole:
        raise _fail(text, "the ends must be whole numbers")
    if colon and suffix.startswith("+"):
        step = _number(text, suffix[1:])
        if step <= 0:
            raise _fail(text, "the step must be positive")
        if whole and not isinstance(step, int):
            raise _fail(text, "a range of whole numbers needs a whole step")
        count = math.floor((last - first) / step + 1e-9) + 1
        values: list[Any] = [first + i * step for i in range(count)]
        if values[-1] != last:
            values.append(last)
    else:
        if colon:
            wanted = _number(text, suffix)
            if not isinstance(wanted, int) or wanted < 1:
                raise _fail(text, "the count after ':' must be a whole number of at least 1 (or :+STEP for a step)")
            count = wanted
        else:
            count = min(DEFAULT_POINTS, int(last - first) + 1) if whole else DEFAULT_POINTS
        if count == 1 or first == last:
            return [first]
        values = [first + (last - first) * i / (count - 1) for i in range(count)]
        values = [round(v) for v in values] if whole else [round(v, 9) for v in values]
    return list(dict.fromkeys(values))


def _number(text: str, raw: str) -> int | float:
    value = _scalar(raw.strip())
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(text, f"{raw.strip()!r} is not a number")
    return value


def parse_setting(text: str) -> tuple[str, str, Any]:
    """One ``--set section.key=value`` argument as section, key and value."""
    key, sep, raw = text.partition("=")
    section, dot, name = key.strip().partition(".")
    if not sep or not dot or not section or not name or not raw.strip():
        raise InputError(f"--set {text!r} is not SECTION.KEY=VALUE", fix="e.g. --set network.median_ms=80")
    return section, name, _scalar(raw.strip())


def toml_value(value: Any) -> str:
    """``value`` as :func:`parse_setting` reads it back."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    return text if _scalar(text) == text and text.replace("_", "").replace("-", "").isalnum() else f'"{text}"'


def check_setting(scenario: Scenario, section: str, name: str, value: Any, *, option: str = "--set") -> None:
    """Raise a one-line error unless ``section.name`` is a scalar key of ``scenario`` and ``value`` fits its kind."""
    from bcastsim.sim._scenario import _suggest

    key = f"{section}.{name}"
    current: Any = getattr(scenario, section, None)
    if section.startswith("_") or not attrs.has(type(current)):
        sections = [s for s in attrs.asdict(scenario, recurse=False) if attrs.has(type(getattr(scenario, s)))]
        raise InputError(f"{option} {key}: no section [{section}]", fix=_suggest(section, sections))
    fields = list(attrs.asdict(current, recurse=False))
    if name not in fields:
        raise InputError(f"{option} {key}: no key {name!r} in [{section}]", fix=_suggest(name, fields))
    default = getattr(current, name)
    if not _same_kind(default, value):
        raise InputError(
            f"{option} {key}={value!r}: the scenario's {name} is a {type(default).__name__} ({default!r})",
            fix=f"e.g. {key}={toml_value(default)}"
            if not isinstance(default, tuple)
            else "set it in the scenario file",
        )


def _same_kind(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, int | float)
    return type(default) is type(value) and not isinstance(default, tuple | list | dict)
