# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A flash sale on the example shop: your own SQL, your own event
#
# The built-in `flash_sale` scenario is not Art Battle: a 30-minute sale on the example shop's SQL
# (`sql/shop/*.sql`, the same files as `examples/shop/db`). Its topics (`order:{orders.id}`,
# `stock:{inventory.store}`, the `fulfilment_jobs` NOTIFY channel), message types and payload sizes
# come from the shop's triggers, exactly as `bcastsim inspect sql/shop/*.sql` prints them; the
# scenario only says what happens: shoppers arrive while the doors open, place and pay their orders
# during the sale, stock runs low (a third of the stock updates fire the `WHEN (NEW.quantity < 5)`
# trigger), fulfilment jobs queue once it is sold out.
#
# Three ways to get the changes to browsers and workers: postgres_changes on the `orders` and
# `inventory` tables, broadcast over `realtime.send` (what the triggers do), and plain
# LISTEN/NOTIFY with the shop's own server fanning out (no Supabase plan limits apply to it).

# %%
import matplotlib.pyplot as plt
import numpy as np

from bcastsim.sim import load_plans, load_scenario, render_text, simulate

# %% tags=["parameters"]
SCENARIO = "flash_sale"
SEED = 1
CLIENTS = [200, 400, 800]  # shoppers; Pro admits 500 connections
PLAN = "pro"

# %%
scenario = load_scenario(SCENARIO)
print(scenario.scenario.title)
print("phases:", ", ".join(f"{p.name} at {p.start_s / 60:g} min" for p in scenario.phases))
print("plan:", load_plans()[PLAN].describe())

# %% [markdown]
# The report for the scenario as written (400 shoppers), in the scenario's own words.

# %%
report = simulate(scenario, seed=SEED, plan=PLAN)
print(render_text(report))

# %% [markdown]
# ## Deliveries per second through the sale
#
# The phases shaded; the busiest moments are the end of the sale, when most orders are placed and
# stock alerts go to every staff member and the shoppers browsing that store.

# %%
LABELS = {
    "postgres_changes": "postgres_changes",
    "broadcast:realtime.send": "broadcast (realtime.send)",
    "listen_notify": "LISTEN/NOTIFY + app server",
}
fig, ax = plt.subplots(figsize=(11, 4))
for run in report.runs:
    arch = run.architectures[0]
    series = run.metrics[arch]["series"]
    ax.plot(np.array(series["time_s"]) / 60, series["deliveries_per_s"], label=LABELS.get(arch, arch), linewidth=1)
shades = ["0.95", "0.88", "0.95"]
for phase, shade in zip(scenario.phases, shades, strict=False):
    start = phase.start_s / 60
    ax.axvspan(start, start + phase.duration_s / 60, color=shade, zorder=0)
    ax.annotate(phase.name, (start + 0.3, 0.95), xycoords=("data", "axes fraction"), fontsize=8)
ax.axhline(load_plans()[PLAN].messages_per_second, color="black", linestyle="--", linewidth=1, label=f"{PLAN} limit")
ax.set_yscale("symlog")
ax.set_xlabel("minutes")
ax.set_ylabel("messages delivered per second")
ax.legend(loc="upper left", fontsize=8)
fig.tight_layout()

# %% [markdown]
# ## As the sale grows
#
# The same sale with 200, 400 and 800 shoppers on Pro: what each shopper misses, the order-status
# latency, and the connections the plan refuses (the shop's own server has no such limit).

# %%
rows = {}
for clients in CLIENTS:
    result = simulate(scenario, seed=SEED, plan=PLAN, clients=clients)
    rows[clients] = {r.architectures[0]: r.metrics[r.architectures[0]] for r in result.runs}

fig, (left, middle, right) = plt.subplots(1, 3, figsize=(14, 4))
for arch, label in LABELS.items():
    lost = [rows[n][arch]["updates"]["lost_per_client_mean"] for n in CLIENTS]
    p99 = [rows[n][arch]["latency_ms"].get("order_status", {}).get("p99") for n in CLIENTS]
    refused = [rows[n][arch]["limit_violations"]["connections_refused"] for n in CLIENTS]
    left.plot(CLIENTS, lost, marker="o", label=label)
    middle.plot(CLIENTS, [np.nan if v is None else v for v in p99], marker="o", label=label)
    right.plot(CLIENTS, refused, marker="o", label=label)
left.set_title("updates lost per client")
middle.set_title("order_status latency p99 (ms)")
right.set_title(f"connections refused ({PLAN})")
for ax in (left, middle, right):
    ax.set_xlabel("shoppers")
    ax.set_xticks(CLIENTS)
left.set_yscale("symlog")
left.legend(fontsize=8)
fig.tight_layout()

# %%
print(f"{'shoppers':>8}  {'architecture':<28} {'lost/client':>11} {'p99 ms':>8} {'refused':>8} {'DB s':>7}")
for n in CLIENTS:
    for arch, label in LABELS.items():
        m = rows[n][arch]
        p99 = m["latency_ms"].get("order_status", {}).get("p99")
        print(
            f"{n:>8}  {label:<28} {m['updates']['lost_per_client_mean']:>11,.1f} {p99 or 0:>8,.0f} "
            f"{m['limit_violations']['connections_refused']:>8,} {m['database']['realtime_time_ms'] / 1000:>7.1f}"
        )

# %% [markdown]
# Under postgres_changes each shopper's subscription is filtered to their own order and the store
# they browse (`pc_filter`), but it still carries every stock change of that store, where the
# trigger broadcasts only the third that run low, so Pro's message rate closes channels in the sale.
# Broadcast sends each shopper their own order on its private topic; LISTEN/NOTIFY does the same
# through the shop's own server, which no plan limits, at the price of running that server.
