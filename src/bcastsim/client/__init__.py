"""Client side of a broadcast system: subscriber-manager profiles, backoff, rollout, the realtime-js port.

Profiles and backoff policies are data (``models/profiles.toml``) naming small strategy
objects; plan limits come from ``models/plans.toml``. The managers run on the port of realtime-js
and its server (``PhoenixClient``, ``PhoenixChannel``, ``PhoenixServer``), the one model of the
library that ``check --client`` and the simulator's agreement tests use.
"""

from collections.abc import Mapping
from pathlib import Path

from bcastsim._plans import PlanLimits, load_plans
from bcastsim.client._backoff import BackoffPolicy, ExponentialBackoff, TableBackoff
from bcastsim.client._clock import VirtualClock
from bcastsim.client._managers import RealtimeJsManager, RecommendedManager, SeedManager, SubscriberManager
from bcastsim.client._ops import (
    Advance,
    Broadcast,
    ChannelClose,
    ChannelError,
    ClientOp,
    Observation,
    OpRunner,
    SocketDrop,
    Subscribe,
    System,
    Unsubscribe,
    UnsubscribeAll,
)
from bcastsim.client._page import EventDatabase, EventPage, Message, PageView
from bcastsim.client._phoenix import PhoenixChannel, PhoenixClient, PhoenixServer
from bcastsim.client._profiles import Profile, load_profiles
from bcastsim.client._rollout import (
    STAGES,
    RolloutFlags,
    SeedRollout,
    StickyRollout,
    Visit,
    hash_code,
    in_rollout,
    should_use_broadcast,
)
from bcastsim.findings import Finding

PROFILES, BACKOFF_POLICIES = load_profiles()
PLANS = load_plans()


def run_client_checks(
    profile_name: str, *, seed: int = 0, max_examples: int = 100, plans: Mapping[str, PlanLimits] | None = None
) -> list[Finding]:
    """Run the client property suites against one profile; each violated property is one finding.

    ``plans`` (e.g. :func:`bcastsim._plans.resolve_plans` of the user's plans file) replaces the
    built-in plans the plan checks read.
    """
    from bcastsim.client import _checks

    return _checks.run_client_checks(profile_name, seed=seed, max_examples=max_examples, plans=plans)


def check_client_js(source: str | Path | None = None, *, seed: int = 0, examples: int = 200) -> list[Finding]:
    """Run the manager properties against JavaScript under node (``source``: a .js file or a plan)."""
    from bcastsim.client import _jscheck

    return _jscheck.check_client_js(source, seed=seed, examples=examples)


__all__ = [
    "BACKOFF_POLICIES",
    "PLANS",
    "PROFILES",
    "STAGES",
    "Advance",
    "BackoffPolicy",
    "Broadcast",
    "ChannelClose",
    "ChannelError",
    "ClientOp",
    "EventDatabase",
    "EventPage",
    "ExponentialBackoff",
    "Message",
    "Observation",
    "OpRunner",
    "PageView",
    "PhoenixChannel",
    "PhoenixClient",
    "PhoenixServer",
    "PlanLimits",
    "Profile",
    "RealtimeJsManager",
    "RecommendedManager",
    "RolloutFlags",
    "SeedManager",
    "SeedRollout",
    "SocketDrop",
    "StickyRollout",
    "Subscribe",
    "SubscriberManager",
    "System",
    "TableBackoff",
    "Unsubscribe",
    "UnsubscribeAll",
    "VirtualClock",
    "Visit",
    "check_client_js",
    "hash_code",
    "in_rollout",
    "load_plans",
    "load_profiles",
    "run_client_checks",
    "should_use_broadcast",
]
