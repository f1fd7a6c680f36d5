"""The seed's featureFlags.js rollout, bit for bit, and a rollout that keeps a person's assignment."""

from __future__ import annotations

import sys

import attrs

__all__ = [
    "STAGES",
    "RolloutFlags",
    "RolloutStrategy",
    "SeedRollout",
    "StickyRollout",
    "Visit",
    "hash_code",
    "in_rollout",
    "should_use_broadcast",
]

# The seed's plan: 5 % on Monday of week 2, then 25, 50, 75, 100.
STAGES: tuple[int, ...] = (5, 25, 50, 75, 100)


# cast("H") reads native-order 16-bit units.
_UTF16_NATIVE = "utf-16-le" if sys.byteorder == "little" else "utf-16-be"


def _utf16_units(text: str) -> memoryview:
    # ``surrogatepass`` keeps lone surrogates, which JS strings may hold.
    return memoryview(text.encode(_UTF16_NATIVE, errors="surrogatepass")).cast("H")


def hash_code(text: str) -> int:
    """``hashCode`` from featureFlags.js: ``charCodeAt`` walks UTF-16 code units; ``hash & hash`` wraps to int32.

    ``((h << 5) - h) + c`` truncated to int32 at every step equals ``h * 31 + c`` modulo 2**32, so the
    arithmetic runs unsigned and is read back as int32 once at the end.
    """
    value = 0
    for unit in _utf16_units(text):
        value = (value * 31 + unit) & 0xFFFFFFFF
    return value - 0x1_0000_0000 if value >= 0x8000_0000 else value


def in_rollout(identity: str, percentage: int) -> bool:
    """``Math.abs(hashCode(identity)) % 100 < percentage`` (JS numbers: abs(-2**31) is 2**31, no overflow)."""
    return abs(hash_code(identity)) % 100 < percentage


@attrs.frozen
class RolloutFlags:
    """The build-time environment flags (``REACT_APP_*``) and the page URL's ``broadcast`` parameter."""

    use_broadcast: bool = False
    percentage: int = 0
    url_broadcast: str | None = None


@attrs.frozen
class Visit:
    """One page load: who is logged in (if anyone) and the browser's stored ids."""

    user_id: str | None
    session_id: str
    device_id: str | None = None


def should_use_broadcast(user_id: str | None, session_id: str, flags: RolloutFlags) -> bool:
    """``shouldUseBroadcast`` from featureFlags.js with the same precedence."""
    if flags.url_broadcast == "true":
        return True
    if flags.url_broadcast == "false":
        return False
    if flags.use_broadcast:
        return True
    if flags.percentage > 0:
        # ``userId ? ... : ...``: an empty user id is falsy in JS and falls back to the session.
        return in_rollout(user_id if user_id else session_id, flags.percentage)
    return False


@attrs.frozen
class SeedRollout:
    name: str = "seed"

    def decide(self, visit: Visit, flags: RolloutFlags) -> bool:
        return should_use_broadcast(visit.user_id, visit.session_id, flags)

    def identity(self, visit: Visit) -> str:
        return visit.user_id if visit.user_id else visit.session_id


@attrs.frozen
class StickyRollout:
    """Bucket by one id per browser that outlives login, so logging in never moves a person between systems."""

    name: str = "recommended"

    def decide(self, visit: Visit, flags: RolloutFlags) -> bool:
        if flags.url_broadcast == "true":
            return True
        if flags.url_broadcast == "false":
            return False
        if flags.use_broadcast:
            return True
        return flags.percentage > 0 and in_rollout(self.identity(visit), flags.percentage)

    def identity(self, visit: Visit) -> str:
        return visit.device_id or visit.session_id


RolloutStrategy = SeedRollout | StickyRollout
