"""run_client_checks: the property suites find the seed's client defects and pass the recommended design."""

from __future__ import annotations

import pytest

from bcastsim._errors import InputError
from bcastsim.client import run_client_checks
from bcastsim.client._node import SEED_PLAN_ENV, default_seed_plan
from bcastsim.findings import Finding, Severity


@pytest.fixture(scope="module")
def seed_findings() -> list[Finding]:
    return run_client_checks("seed", seed=0, max_examples=100)


def test_recommended_has_no_error_findings() -> None:
    """The recommended profile passes every property that can fail with an error."""
    findings = run_client_checks("recommended", seed=0)
    assert [f.rule for f in findings if f.severity is Severity.ERROR] == []


@pytest.mark.parametrize(
    "rule",
    [
        "client.event-filter",
        "client.unsubscribe-isolation",
        "client.envelope-not-payload",
        "client.reconnect-unreachable",
        "client.recovers-after-close",
        "client.no-resync-after-gap",
        "client.restricted-data-public",
        "client.delivery-duplicated",
        "client.topic-unreachable",
        "client.payload-shape",
        "client.latest-bid-not-highest",
        "rollout.unstable-across-login",
    ],
)
def test_seed_errors_are_found(seed_findings: list[Finding], rule: str) -> None:
    """Each client-side defect of the seed is reported as an error finding."""
    assert any(f.rule == rule and f.severity is Severity.ERROR for f in seed_findings)


def test_every_seed_finding_is_reproducible_or_located(seed_findings: list[Finding]) -> None:
    """Findings carry a minimal example or a place in the seed plan, and serialize to the findings JSON shape."""
    for finding in seed_findings:
        assert set(finding.to_json()) >= {"rule", "severity", "message", "path", "line"}
    unplaced = [f.rule for f in seed_findings if not (f.example or f.path)]
    if unplaced and not default_seed_plan().is_file():
        pytest.skip(f"the seed plan is not here ({SEED_PLAN_ENV} or ../shared/seed/broadcast-migration-plan.md)")
    assert unplaced == []


def test_seed_minimal_examples_are_short(seed_findings: list[Finding]) -> None:
    """Shrinking leaves the listener-bookkeeping counterexamples at three or four operations."""
    for rule in ("client.event-filter", "client.unsubscribe-isolation"):
        example = next(f.example for f in seed_findings if f.rule == rule)
        assert example is not None
        assert example.count("(") - example.count("()") <= 4


def test_seed_findings_point_into_the_seed_plan(seed_findings: list[Finding]) -> None:
    """Where the seed plan is present, manager findings name its file and a line."""
    located = [f for f in seed_findings if f.rule == "client.reconnect-unreachable"]
    if located[0].path is None:
        pytest.skip("the seed plan is not available here")
    assert located[0].path.endswith(".md")
    assert located[0].line


def test_checks_are_deterministic() -> None:
    """Two runs with one seed give the same findings."""
    assert run_client_checks("realtime_js", seed=3, max_examples=30) == run_client_checks(
        "realtime_js", seed=3, max_examples=30
    )


def test_unknown_profile_is_an_input_error() -> None:
    """Naming a profile that does not exist is bad input with a fix listing the profiles."""
    with pytest.raises(InputError, match="unknown client profile") as info:
        run_client_checks("nope")
    assert info.value.fix
    assert "recommended" in info.value.fix


def test_unreachable_topic_fix_keeps_restricted_data_private(seed_findings: list[Finding]) -> None:
    """The fix for an unreachable admin topic never moves its restricted data onto a public topic."""
    admin = [f for f in seed_findings if f.rule == "client.topic-unreachable" and "admin" in (f.channel or "")]
    assert admin
    for finding in admin:
        assert "private => false" not in finding.fix
        assert "private => true" in finding.fix
