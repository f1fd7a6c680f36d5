"""The event page model and convergence of its view with the database."""

from __future__ import annotations

from hypothesis import given

from bcastsim.check.convergence import view_differences
from bcastsim.client import PROFILES
from bcastsim.client._scenario import PageBid, PageDrop, PageOp, PageRerender, PageWinner, art_id, run_page_scenario
from bcastsim.strategies import page_ops

A0, A1 = art_id(0), art_id(1)


@given(page_ops())
def test_recommended_page_converges_after_quiet(ops: list[PageOp]) -> None:
    """Whatever fails, after 300 s of quiet the recommended page shows what the database holds."""
    run = run_page_scenario(PROFILES["recommended"], ops)
    assert view_differences(run.page_view, run.database_view) == []


def test_seed_page_reads_fields_off_the_envelope() -> None:
    """The seed page stores bids under art_id undefined and never sees a winner update."""
    run = run_page_scenario(PROFILES["seed"], [PageBid(0, 5), PageWinner(1, True)])
    assert run.page_view.current_bids.get(None, "missing") is None
    assert run.page_view.winners[A1] is False
    assert run.database_view.winners[A1] is True
    assert run.flashes == ('[data-bid-art="undefined"]',)


def test_latest_bid_is_not_the_highest() -> None:
    """A page that keeps the latest amount shows 5 after bids 10 then 5; the database's current bid is 10."""
    unwrapped = PROFILES["realtime_js"]
    run = run_page_scenario(unwrapped, [PageBid(0, 10), PageBid(0, 5)])
    assert run.page_view.current_bids[A0] == 5
    assert run.database_view.current_bids[A0] == 10
    assert view_differences(run.page_view, run.database_view)


def test_a_gap_without_refetch_leaves_a_stale_bid() -> None:
    """A bid sent while the socket is down never reaches a page that does not refetch."""
    stale = run_page_scenario(PROFILES["realtime_js"], [PageDrop(), PageBid(0, 7)])
    fresh = run_page_scenario(PROFILES["recommended"], [PageDrop(), PageBid(0, 7)])
    assert stale.page_view.current_bids[A0] is None
    assert fresh.page_view.current_bids[A0] == 7


def test_seed_effect_rerun_duplicates_callbacks() -> None:
    """Re-running the seed page's effect without cleanup runs each callback twice per message."""
    run = run_page_scenario(PROFILES["seed"], [PageRerender(), PageBid(0, 1)])
    received = run.history.clients[0].received[f"broadcast:bid:{A0}"]
    assert [message for message, _ in received] == [1, 1]


def test_what_callbacks_read_is_checked_against_the_contracts() -> None:
    """Reading the payload satisfies the seed's message contracts; reading the envelope breaks every one."""
    from bcastsim._resources import builtin_sql_files
    from bcastsim.check.shapes import check_payload_shapes
    from bcastsim.client._scenario import PageAuction, PageVote
    from bcastsim.contracts import build_contracts
    from bcastsim.sqlmodel import load_catalog

    contracts = build_contracts(load_catalog(builtin_sql_files()))
    ops: list[PageOp] = [PageBid(0, 5), PageWinner(0, True), PageAuction(0, 1, 2), PageVote(0)]
    good = run_page_scenario(PROFILES["recommended"], ops)
    bad = run_page_scenario(PROFILES["seed"], ops)
    assert check_payload_shapes(good.reads, contracts) == []
    broken = check_payload_shapes(bad.reads, contracts)
    assert {f.channel for f in broken} == {
        c.channel_pattern for c in contracts if c.message_type not in {"media_update", "round_contestants_update"}
    }
