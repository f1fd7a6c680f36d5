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
# # Reconnect storms: a Realtime restart with 2,000 clients
#
# The Realtime server restarts in the middle of the auction's closing burst. Every socket drops at once,
# and what happens next depends on the client: when it retries, whether the retries are spread out,
# whether it rejoins its channels, and whether it fetches what it missed. Three client profiles from
# `bcastsim.client.PROFILES`:
#
# * **seed** — the plan's `BroadcastManager`. Its own exponential backoff listens for a `'CLOSED'`
#   status on the `system` event, which realtime-js never sends, so after a socket drop only
#   realtime-js's own timers run.
# * **realtime_js** — plain realtime-js: socket reconnect after 1, 2, 5, then every 10 seconds, no jitter.
# * **recommended** — capped exponential backoff with full jitter, rejoin after a server-closed
#   channel, and a refetch of current state after any gap.
#
# The event is the built-in `artbattle` scenario with 2,000 clients on broadcast (`realtime.send`) on the
# Team plan; the only fault is the restart. Connection counts come from the simulator sampled every
# 100 ms; the reconnect attempts per 100 ms are drawn from each profile's backoff policy, one
# `random.Random` per client, exactly as the policy's `delay_ms(attempt, rng)` defines them.

# %%
import concurrent.futures
import multiprocessing
import random

import attrs
import matplotlib.pyplot as plt
import numpy as np

from bcastsim.client import PROFILES
from bcastsim.sim import FaultConfig, load_scenario, simulate

# %% tags=["parameters"]
# Parameters: papermill (or any notebook runner) injects new values after this cell (docs/notebooks.md).
SEED = 1
CLIENTS = 2000
RESTART_AT_S = 9800.0  # the auction's closing burst
DOWNTIMES_S = [5.0, 15.0, 30.0, 60.0]
MAIN_DOWNTIME_S = 15.0  # one of DOWNTIMES_S: the storm drawn at 100 ms

# %%
ARCH = "broadcast:realtime.send"
PROFILE_NAMES = ["seed", "realtime_js", "recommended"]
COLOURS = dict(zip(PROFILE_NAMES, ["tab:red", "tab:orange", "tab:blue"], strict=True))
STEP_S = 0.1

base = attrs.evolve(load_scenario("artbattle"), faults=())
# End the event five minutes after the restart.
quiet = base.with_overrides(scenario={"duration_s": RESTART_AT_S + 300.0})

for name in PROFILE_NAMES:
    profile = PROFILES[name]
    print(f"{name:>12}: socket backoff {profile.socket_backoff}")
    print(f"{'':>12}  rejoins after a server close: {profile.rejoins_after_close}, "
          f"refetches after a gap: {profile.refetches_after_gap}")


def run(profile: str, downtime_s: float | None) -> dict:
    # 100 ms samples where the storm itself is drawn, one-second samples for the other downtimes.
    step = STEP_S if downtime_s == MAIN_DOWNTIME_S else 1.0
    chosen = quiet.with_overrides(scenario={"sample_interval_s": step})
    if downtime_s is not None:
        chosen = attrs.evolve(chosen, faults=(FaultConfig(kind="restart", at_s=RESTART_AT_S, duration_s=downtime_s),))
    report = simulate(chosen, clients=CLIENTS, seed=SEED, plan="team", profile=profile, reference_plan="none",
                      architectures=[ARCH])
    return report.runs[0].metrics[ARCH]


# Forked workers share this notebook's definitions; every run is seeded, so the order of completion
# does not matter.
jobs = [(p, d) for p in PROFILE_NAMES for d in (None, *DOWNTIMES_S)]
with concurrent.futures.ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("fork")) as pool:
    results = dict(zip(jobs, pool.map(run, *zip(*jobs, strict=True)), strict=True))
print("simulated events:", len(results))


def connected(metrics: dict) -> tuple[np.ndarray, np.ndarray]:
    """Seconds relative to the restart, and connected clients."""
    t = np.array(metrics["series"]["time_s"]) - RESTART_AT_S
    return t, np.array(metrics["series"]["connected_clients"], dtype=float)


def recovery_s(metrics: dict) -> float:
    """Seconds from the restart until every client that was connected before it is connected again."""
    t, c = connected(metrics)
    before = c[t < 0][-1]
    after = np.flatnonzero((t > 0) & (c >= before))
    return float(t[after[0]]) if after.size else float("nan")


# %% [markdown]
# ## Reconnect attempts per 100 ms
#
# The server is down for 15 s (grey). Without jitter every client waits the same 1, 2, 5, 10 seconds,
# so all 2,000 attempts land in the same 100 ms — three times while the server is down, and the fourth
# wave, at 18 s, finds it up and reconnects everyone in one instant. Jittered exponential backoff
# spreads the attempts over seconds; the server sees a trickle instead of a wall, at the price of a
# slower tail.

# %%
def attempt_times(policy, downtime_s: float, clients: int, seed: int) -> list[float]:
    """Every reconnect attempt of every client after a drop at t = 0, up to the first that succeeds."""
    times = []
    for i in range(clients):
        rng = random.Random(seed * 1_000_003 + i)
        t, attempt = 0.0, 0
        while True:
            attempt += 1
            delay = policy.delay_ms(attempt, rng)
            if delay is None:  # the policy gave up
                break
            t += delay / 1000.0
            times.append(t)
            if t >= downtime_s:
                break
    return times


HORIZON_S = 60.0
bins = np.arange(0.0, HORIZON_S + STEP_S, STEP_S)
fig, axes = plt.subplots(len(PROFILE_NAMES), 1, figsize=(14, 8), sharex=True)
for ax, name in zip(axes, PROFILE_NAMES, strict=True):
    times = attempt_times(PROFILES[name].socket_backoff, MAIN_DOWNTIME_S, CLIENTS, SEED)
    counts, _ = np.histogram(times, bins=bins)
    ax.bar(bins[:-1], counts, width=STEP_S, align="edge", color=COLOURS[name], label="attempts (backoff policy)")
    t, c = connected(results[(name, MAIN_DOWNTIME_S)])
    window = (t >= 0) & (t <= HORIZON_S)
    ups = np.maximum(np.diff(c[window], prepend=c[window][0]), 0)
    ax.plot(t[window], ups, "k.", markersize=3, label="reconnects (simulator)")
    ax.axvspan(0, MAIN_DOWNTIME_S, color="0.9", zorder=0)
    ax.set_yscale("symlog", linthresh=10)
    ax.set_ylim(0, CLIENTS * 2)
    ax.set_ylabel("per 100 ms")
    ax.set_title(f"{name}: {len(times):,} attempts, peak {counts.max():,} in one 100 ms")
    ax.legend(loc="upper right", fontsize=8)
axes[-1].set_xlabel("seconds after the restart")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Recovery
#
# Left: connected clients around the 15-second restart (from the simulator). Right: time until every
# client's socket is connected again, for restarts of 5 to 60 seconds (one-second resolution). A fixed
# schedule recovers in one step at the first scheduled attempt after the server is back — which, past
# the table's end, can be up to 10 seconds after it; jitter trades a gentler surge for a longer tail.

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(14, 4.5))
for name in PROFILE_NAMES:
    t, c = connected(results[(name, MAIN_DOWNTIME_S)])
    window = (t >= -5) & (t <= 90)
    left.plot(t[window], c[window], color=COLOURS[name], label=name, linewidth=2 if name == "seed" else 1.2,
              linestyle="--" if name == "realtime_js" else "-")
left.axvspan(0, MAIN_DOWNTIME_S, color="0.9", zorder=0, label="server down")
left.set_xlabel("seconds after the restart")
left.set_ylabel("connected clients")
left.set_title(f"Connected clients, {MAIN_DOWNTIME_S:g} s restart")
left.legend()

x = np.arange(len(DOWNTIMES_S))
width = 0.27
for k, name in enumerate(PROFILE_NAMES):
    values = [recovery_s(results[(name, d)]) for d in DOWNTIMES_S]
    bars = right.bar(x + (k - 1) * width, values, width, color=COLOURS[name], label=name)
    right.bar_label(bars, fmt="%.1f", fontsize=7)
right.hlines(DOWNTIMES_S, x - 1.5 * width, x + 1.5 * width, color="black", linewidth=1.5, label="server back")
right.set_xticks(x, [f"{d:g} s" for d in DOWNTIMES_S])
right.set_xlabel("restart downtime")
right.set_ylabel("seconds until all clients are connected")
right.set_title("Time to full recovery")
right.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Updates missed, and the wait for channel joins
#
# Delivery is at most once: a message sent while a client is disconnected, or before it has rejoined
# the channel, is gone. Left: updates missed per client, for the same event with no restart and with
# restarts of 5 to 60 seconds; the light bar is everything missed, the dark bar what stays missing
# after the profile's own recovery (only the recommended profile refetches current state after a gap).
# Even without a restart the seed's page misses updates: on the Team plan its subscribe-to-everything
# fan-out goes over the message rate in the auction close and Realtime closes channels (see
# `01_load.py`).
#
# Right: every reconnected client rejoins all its channels — the seed's page follows every artwork.
# Realtime rejects the joins over the plan's 2,500 per second ("Too many joins per second") and each
# rejected channel retries on Phoenix's rejoin timer (1 s, 2 s, 5 s, then every 10 s), colliding with
# the others again. The chart shows the longest a channel waited for its join; a client is only fully
# back when its last channel has joined (the table's "resubscribed p99").

# %%
groups = [None, *DOWNTIMES_S]
gx = np.arange(len(groups))
group_labels = ["no restart", *(f"{d:g} s" for d in DOWNTIMES_S)]
fig, (left, right) = plt.subplots(1, 2, figsize=(14, 4.5))
for k, name in enumerate(PROFILE_NAMES):
    lost = [results[(name, d)]["updates"]["lost_per_client_mean"] for d in groups]
    unrecovered = [results[(name, d)]["updates"]["unrecovered_per_client_mean"] for d in groups]
    left.bar(gx + (k - 1) * width, lost, width, color=COLOURS[name], alpha=0.35, label=f"{name}: missed")
    left.bar(gx + (k - 1) * width, unrecovered, width, color=COLOURS[name], label=f"{name}: still missing")
left.set_xticks(gx, group_labels)
left.set_xlabel("restart downtime")
left.set_ylabel("updates per client (mean)")
left.set_title("Updates missed over the event")
left.legend(fontsize=7, ncol=3, loc="upper left")
left.set_ylim(0, left.get_ylim()[1] * 1.25)

for k, name in enumerate(PROFILE_NAMES):
    queue = [results[(name, d)]["limit_violations"]["max_join_queue_ms"] / 1000 for d in groups]
    bars = right.bar(gx + (k - 1) * width, queue, width, color=COLOURS[name], label=name)
    right.bar_label(bars, fmt="%.1f", fontsize=7)
right.set_xticks(gx, group_labels)
right.set_xlabel("restart downtime")
right.set_ylabel("seconds")
right.set_title("Longest wait for a channel join (Team: 2,500 joins/s)")
right.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
print(f"{'profile':>12} {'downtime':>10} {'sockets back s':>15} {'affected':>9} {'attempts':>9} {'failed':>7} "
      f"{'resubscribed p99 s':>19} {'missed/client':>14} {'still missing':>14} {'longest join wait s':>20}")
for name in PROFILE_NAMES:
    for d in groups:
        m = results[(name, d)]
        back = "" if d is None else f"{recovery_s(m):.1f}"
        resub = m["connections"]["resubscribe_ms"]["p99"]
        print(f"{name:>12} {group_labels[groups.index(d)]:>10} {back:>15} {m['connections']['clients_affected']:>9,} "
              f"{m['connections']['attempts']:>9,} {m['connections']['failures']:>7,} "
              f"{'' if resub is None else f'{resub / 1000:.1f}':>19} {m['updates']['lost_per_client_mean']:>14.1f} "
              f"{m['updates']['unrecovered_per_client_mean']:>14.1f} "
              f"{m['limit_violations']['max_join_queue_ms'] / 1000:>20.1f}")

# %% [markdown]
# **Reading the figures.** The seed and plain realtime-js behave the same after a restart: the seed's
# reconnect logic never fires, so realtime-js's fixed schedule decides, and 2,000 clients hit the
# server in the same 100 ms again and again. Whatever they missed while away stays missing — neither
# refetches. The recommended profile spreads its attempts, rejoins what the server closed, and
# refetches current state, so most of what it missed is repaired even though its last client comes
# back later.
