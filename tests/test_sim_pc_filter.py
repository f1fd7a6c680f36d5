"""postgres_changes row filters (pc_filter): a filtered subscription gets, is owed and is authorised only its rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bcastsim import InputError
from bcastsim.sim import RandomTree, app_model, build_workload, load_scenario, simulate

SHOPPERS = 40
# A small flash sale under postgres_changes alone, with no fault and no plan limit in the way.
_SALE = """extends = "flash_sale"
faults = []
[scenario]
architectures = ["postgres_changes"]
plan = "unlimited"
[populations.shoppers]
count = SHOPPERS
ramp_s = 0
waves = 1
pc_filter = { orders = "ORDERS", inventory = "INVENTORY" }
[populations.staff]
count = 2
"""


def _sale(tmp_path: Path, orders: str, inventory: str) -> Path:
    path = tmp_path / f"sale_{orders}_{inventory}.toml"
    text = _SALE.replace("SHOPPERS", str(SHOPPERS)).replace("ORDERS", orders).replace("INVENTORY", inventory)
    path.write_text(text, encoding="utf-8")
    return path


def _metrics(path: Path) -> dict[str, Any]:
    metrics: dict[str, Any] = simulate(load_scenario(path)).runs[0].metrics["postgres_changes"]
    return metrics


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("pc_filter")
    return {"all": _metrics(_sale(tmp, "all", "all")), "own": _metrics(_sale(tmp, "own", "followed"))}


@pytest.fixture(scope="module")
def changes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    """Row changes per table in the sale, and how many shoppers browse the store of each stock change."""
    scenario = load_scenario(_sale(tmp_path_factory.mktemp("pc_filter_w"), "all", "all"))
    workload = build_workload(scenario, app_model(scenario), RandomTree(scenario.scenario.seed).stream("workload"))
    stores = len(workload.instances["store"])
    browsing = [sum(1 for k in range(SHOPPERS) if k % stores == s) for s in range(stores)]
    out = {"orders": 0, "inventory": 0, "fulfilment_jobs": 0, "browsed": 0}
    for write in workload.writes:
        out[write.table] += 1
        if write.table == "inventory":
            out["browsed"] += browsing[write.index]
    return out


def _by_table(metrics: dict[str, Any]) -> tuple[int, int, int]:
    """Deliveries of order changes, of stock changes, and the whole owed minus the workers' job queue."""
    kinds = metrics["deliveries_by_kind"]
    stock = kinds.get("inventory_update", 0) + kinds.get("low_stock", 0)
    return kinds["order_status"], stock, metrics["updates"]["owed"] - kinds["job_queued"]


def test_filtered_shoppers_get_and_are_owed_only_their_rows(
    runs: dict[str, dict[str, Any]], changes: dict[str, int]
) -> None:
    """Each shopper is owed and gets its own order's changes and its store's stock; staff still get every change."""
    metrics = runs["own"]
    orders, stock, owed = _by_table(metrics)
    assert orders == changes["orders"] * (1 + 2)
    assert stock == changes["browsed"] + 2 * changes["inventory"]
    assert owed == orders + stock
    assert metrics["updates"]["lost"] == 0
    assert metrics["messages_sent"] == metrics["updates"]["owed"]
    assert metrics["delivery_check"]["counts"]["leaked"] == 0


def test_unfiltered_shoppers_get_every_change(runs: dict[str, dict[str, Any]], changes: dict[str, int]) -> None:
    """Without a filter every shopper and every staff member is owed and gets every order and stock change."""
    metrics = runs["all"]
    orders, stock, owed = _by_table(metrics)
    assert orders == changes["orders"] * (SHOPPERS + 2)
    assert stock == changes["inventory"] * (SHOPPERS + 2)
    assert owed == orders + stock
    assert metrics["updates"]["lost"] == 0


def test_authorization_counts_only_the_subscriptions_a_change_matches(runs: dict[str, dict[str, Any]]) -> None:
    """apply_rls reads once per matching subscription: filtering cuts the reads to the deliveries owed."""
    reads = {name: m["database"]["queries"]["authorization_reads"] for name, m in runs.items()}
    assert reads["own"] == runs["own"]["updates"]["owed"]
    assert reads["all"] == runs["all"]["updates"]["owed"]
    assert reads["own"] < reads["all"] / 3


@pytest.mark.parametrize(
    ("shoppers", "message", "fix"),
    [
        ('pc_filter = { order = "own" }', 'names "order", which is not in populations.shoppers.pc_tables', '"orders"'),
        ('pc_filter = { orders = "owm" }', "unknown row selection 'owm' for orders", 'use "own"'),
        ('pc_filter = "own"', "populations.shoppers.pc_filter must be a table", 'orders = "own"'),
        (
            'pc_filter = { inventory = "own" }',
            '"own" needs store, which inventory rows are about',
            'per_client = "shoppers"',
        ),
    ],
)
def test_bad_pc_filter_is_one_line_with_file_line_and_fix(
    tmp_path: Path, shoppers: str, message: str, fix: str
) -> None:
    """A pc_filter naming a table the population does not subscribe to, or an unknown selection, is one line."""
    path = tmp_path / "sale.toml"
    path.write_text(f'extends = "flash_sale"\n[populations.shoppers]\n{shoppers}\n', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    error = caught.value
    assert (error.path, error.line) == (str(path), 3)
    assert message in error.message
    assert error.fix is not None
    assert fix in error.fix
    assert "\n" not in error.one_line()


def test_followed_needs_a_follow_rule_about_the_tables_entity(tmp_path: Path) -> None:
    """ "followed" on a table whose entity the population follows no topic of is one line with file, line, fix."""
    path = tmp_path / "sale.toml"
    path.write_text(
        'extends = "flash_sale"\n[populations.staff]\npc_filter = { orders = "followed" }\n', encoding="utf-8"
    )
    scenario = load_scenario(path)
    with pytest.raises(InputError) as caught:
        simulate(scenario, architectures=["postgres_changes"])
    error = caught.value
    assert (error.path, error.line) == (str(path), 3)
    assert "a follow rule about order" in error.message
    assert "\n" not in error.one_line()
