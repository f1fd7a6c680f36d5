"""The built-in flash sale: a second app on the same simulation path, reported in its own words."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bcastsim.cli import main
from bcastsim.sim import RandomTree, SimulationReport, app_model, build_workload, load_scenario, render_text, simulate


@pytest.fixture(scope="module")
def report() -> SimulationReport:
    return simulate("flash_sale")


def test_report_speaks_of_the_sale(report: SimulationReport) -> None:
    """Title, phases, populations, entities and writes are the scenario's; nothing of Art Battle or its claims."""
    text = render_text(report)
    assert text.splitlines()[3] == "Flash sale: 30 minutes, 400 shoppers, 4 stores"
    for words in (
        "400 shoppers + 5 staff + 2 workers",
        "400 orders · 4 stores",
        "400 orders placed · 400 orders paid",
        "doors open 0:00:00 · flash sale 0:05:00 · sold out 0:20:00",
        "order status latency p50/p95/p99",
        "LISTEN/NOTIFY + app server",
        "sql/shop/triggers.sql",
    ):
        assert words in text, words
    lowered = text.lower()
    for foreign in ("artwork", "bid", "4.2", "seed's", "holds? yes/no"):
        assert foreign not in lowered, foreign
    assert report.claims is None


def test_each_shopper_gets_their_own_order_and_nobody_elses(report: SimulationReport) -> None:
    """Over broadcast and over LISTEN/NOTIFY, a shopper receives only their own order's changes, none leaked."""
    for arch in ("broadcast:realtime.send", "listen_notify"):
        metrics = next(r for r in report.runs if r.architectures == (arch,)).metrics[arch]
        orders = metrics["deliveries_by_kind"]["order_status"]
        assert 0.9 * 800 <= orders <= 800  # an insert and a payment per order; a few lost in the network blip
        assert metrics["delivery_check"]["counts"]["leaked"] == 0
        assert metrics["delivery_check"]["counts"]["unauthorized"] == 0
        assert metrics["deliveries_by_kind"]["job_queued"] > 0  # the workers' queue


def test_conditional_stock_messages_follow_the_emits_share() -> None:
    """low_stock is sent WHEN (NEW.quantity < 5): about emits.low_stock of the stock updates send it."""
    scenario = load_scenario("flash_sale")
    app = app_model(scenario)
    workload = build_workload(scenario, app, RandomTree(1).stream("workload"))
    sale = [w for w in workload.writes if w.source == "stock"]
    sent = sum(1 for w in sale if w.sends)
    assert len(sale) == 1800
    assert 0.25 * len(sale) <= sent <= 0.35 * len(sale)
    sold_out = [w for w in workload.writes if w.source == "sold_out"]
    assert all(len(w.sends) == 1 for w in sold_out)


def test_cli_runs_the_flash_sale(capsys: pytest.CaptureFixture[str]) -> None:
    """`bcastsim simulate flash_sale --clients 600 --format json`: beyond Pro's 500 connections some are refused."""
    status = main(
        ["simulate", "flash_sale", "--clients", "600", "--arch", "broadcast,listen_notify", "--format", "json"]
    )
    assert status == 0
    data = json.loads(capsys.readouterr().out)
    assert data["scenario"]["populations"]["shoppers"] == 600
    runs = {r["label"]: r for r in data["runs"]}
    broadcast = runs["broadcast:realtime.send"]["metrics"]["broadcast:realtime.send"]
    own = runs["listen_notify"]["metrics"]["listen_notify"]
    assert broadcast["limit_violations"]["connections_refused"] > 0
    assert own["limit_violations"]["connections_refused"] == 0  # the shop's own server has no Supabase plan
    assert runs["listen_notify"]["plan"] == "unlimited"


def test_packaged_shop_sql_is_the_example_projects() -> None:
    """sql/shop (shipped in the wheel) is the example project's SQL, byte for byte."""
    root = Path(__file__).resolve().parents[1]
    for name in ("schema.sql", "triggers.sql"):
        assert (root / "sql" / "shop" / name).read_bytes() == (root / "examples" / "shop" / "db" / name).read_bytes()


def test_emits_overrides_an_unconditional_site(tmp_path: Path) -> None:
    """An orders DELETE: the scenario says order_status is never sent (the branch returns early), order_deleted is."""
    path = tmp_path / "sale.toml"
    path.write_text(
        'extends = "flash_sale"\n[writes.cancel]\ntable = "orders"\nop = "DELETE"\nentity = "order"\ncount = 50\n'
        "emits = { order_status = 0.0, order_deleted = 1.0 }\n"
    )
    scenario = load_scenario(path)
    app = app_model(scenario)
    workload = build_workload(scenario, app, RandomTree(1).stream("workload"))
    cancels = [w for w in workload.writes if w.source == "cancel"]
    assert len(cancels) == 50
    assert {app.messages[i].kind for w in cancels for i, _topic in w.sends} == {"order_deleted"}
