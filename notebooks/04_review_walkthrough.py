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
# # A reviewer's walk-through: `bcastsim review` on a trigger change
#
# A pull request replaces the seed's five broadcast triggers (`sql/broadcast_triggers.sql`) with a
# corrected version (`sql/variants/recommended_triggers.sql`). The reviewer wants three answers:
#
# 1. What does the change do to channels, payloads, audiences and transports — who stops receiving
#    what, who starts?
# 2. Which problems does it fix, and does it introduce any?
# 3. Does the database really send what the analysis says? (`--pg` runs both versions in a throwaway
#    PostgreSQL on the same generated writes and compares what each one actually sends.)
#
# On the command line this is
#
# ```sh
# bcastsim review sql/broadcast_triggers.sql sql/variants/recommended_triggers.sql \
#     --schema sql/schema.sql --schema sql/realtime.sql --pg
# ```
#
# and below it is the same call from Python: `bcastsim.review.review(old, new, schema=..., pg=True)`.

# %%
import difflib
import html
import json
import os
import re
from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import HTML, display

from bcastsim._resources import builtin_sql_dir
from bcastsim.db import load_schema
from bcastsim.pg import EphemeralPostgres
from bcastsim.review import generate_workload, render, review

# %% tags=["parameters"]
# Parameters: papermill (or any notebook runner) injects new values after this cell (docs/notebooks.md).
# Paths are relative to the repository root (or the installed package's copy of sql/).
OLD = "sql/broadcast_triggers.sql"
NEW = "sql/variants/recommended_triggers.sql"
SCHEMA = ["sql/schema.sql", "sql/realtime.sql"]
SEED = 0

# %%
# Run from the repository root, so every path in the report reads as it would in CI; outside a
# checkout, from the copy of sql/ that the installed package ships.
ROOT = next(
    (p for p in (Path.cwd(), *Path.cwd().parents) if (p / "sql" / "broadcast_triggers.sql").is_file()),
    builtin_sql_dir().parent,
)
os.chdir(ROOT)

old_text = Path(OLD).read_text(encoding="utf-8").splitlines()
new_text = Path(NEW).read_text(encoding="utf-8").splitlines()
diff = list(difflib.unified_diff(old_text, new_text, OLD, NEW, lineterm="", n=1))
added = sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))
removed = sum(1 for line in diff if line.startswith("-") and not line.startswith("---"))
print(f"{OLD}: {len(old_text)} lines; {NEW}: {len(new_text)} lines; +{added} −{removed}")
print("\n".join(diff[:40]))
print("…")

# %% [markdown]
# ## The report
#
# `review` loads both versions on top of the schema, builds each version's message contracts (channel
# templates, payload keys and their sources, transport, public or private), diffs them, and runs every
# rule on both. Each entry is one of: a **change** between the versions, a problem the new version
# **introduces**, or one it **fixes** (reported as a note). The exit status is 1 when any entry is an
# error — in CI that fails the build until someone looks.

# %%
report = review(OLD, NEW, schema=SCHEMA, pg=True, seed=SEED)
summary = report.summary()
print({k: summary[k] for k in ("total", "errors", "warnings", "notes", "introduced", "fixed", "changes",
                               "exit_status")})

SEVERITY_COLOUR = {"error": "#c44e52", "warning": "#dd8452", "note": "#4c72b0"}


def table(entries, limit: int | None = None) -> HTML:
    rows = []
    for entry in entries[:limit]:
        f = entry.finding
        where = f"{f.path}:{f.line}" if f.path and f.line else (f.path or "")
        rows.append(
            "<tr>"
            f"<td style='color:{SEVERITY_COLOUR[f.severity.value]}'><b>{f.severity.value}</b></td>"
            f"<td>{entry.state or ''}</td><td><code>{f.rule}</code></td>"
            f"<td>{html.escape(f.function or '')}</td><td><code>{html.escape(f.channel or '')}</code></td>"
            f"<td style='text-align:left'>{html.escape(f.message)}</td><td>{html.escape(where)}</td>"
            "</tr>"
        )
    head = "".join(f"<th>{h}</th>" for h in ("severity", "state", "rule", "function", "channel", "message", "where"))
    return HTML(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


# Errors and warnings first (the report is already sorted by severity, then place).
serious = [e for e in report.entries if e.finding.severity.value != "note"]
display(table(serious))

# %% [markdown]
# ## Findings by rule and severity
#
# Left: every entry, by rule, coloured by severity. Right: the same entries by what they are in this
# review — the changes the reviewer must check against the subscribers, and the old version's
# problems that the new version no longer has.

# %%
by_rule = Counter((e.finding.rule, e.finding.severity.value) for e in report.entries)
rules = sorted({rule for rule, _ in by_rule}, key=lambda r: (-sum(n for (q, _), n in by_rule.items() if q == r), r))
fig, (left, right) = plt.subplots(1, 2, figsize=(15, 0.32 * len(rules) + 2), gridspec_kw={"width_ratios": [3, 2]})
y = np.arange(len(rules))
start = np.zeros(len(rules))
for severity in ("error", "warning", "note"):
    counts = np.array([by_rule.get((rule, severity), 0) for rule in rules])
    left.barh(y, counts, left=start, color=SEVERITY_COLOUR[severity], label=severity)
    start += counts
left.set_yticks(y, rules)
left.margins(x=0.05)
left.invert_yaxis()
left.set_xlabel("entries")
left.set_title(f"{summary['total']} entries by rule")
left.legend()

states = ["changed", "introduced", "fixed"]
by_state = Counter((e.state, e.finding.severity.value) for e in report.entries)
sx = np.arange(len(states))
bottom = np.zeros(len(states))
for severity in ("error", "warning", "note"):
    counts = np.array([by_state.get((state, severity), 0) for state in states])
    right.bar(sx, counts, bottom=bottom, color=SEVERITY_COLOUR[severity], label=severity)
    bottom += counts
right.set_xticks(sx, ["changes", "introduced", "fixed"])
right.set_ylabel("entries")
right.set_title("What the change does")
right.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## What the old version got wrong
#
# The rules that fire on the seed's triggers and no longer fire on the new version. The biggest is
# the one that makes the whole migration moot: `pg_notify` never reaches Supabase Realtime's broadcast
# channels, so the seed's triggers send every message to nobody.

# %%
fixed = [e for e in report.entries if e.state == "fixed"]
for rule, n in Counter(e.finding.rule for e in fixed).most_common():
    example = next(e.finding for e in fixed if e.finding.rule == rule)
    print(f"{n:>3} × {rule:<28} e.g. {example.function}: {example.message.removeprefix('fixed: ')[:150]}")

# %% [markdown]
# ## What the database really sends
#
# The `pg-*` entries come from PostgreSQL itself: both versions are loaded into fresh databases of a
# throwaway server and run the same writes: histories drawn by `bcastsim.strategies` (the generator of
# the property tests) on each version's schema with the seed, each run on both versions from empty
# tables. What each version sends is paired by message type and destination and counted against the
# notify site that sent it. A transaction that fails in both versions alike is not a difference and
# reports nothing; one that fails in only one of them is `pg-write-failed`.

# %%
observed = [e for e in report.entries if e.finding.rule.startswith("pg-")]
display(table(observed))

# %% [markdown]
# To see the traffic itself, run that workload again with `bcastsim.pg` and count what each version
# emits per destination: `pg_notify` notifications for the old triggers, rows in `realtime.messages`
# for the new ones, with ids folded into `{uuid}`.

# %%
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
workload = generate_workload(load_schema([*SCHEMA, OLD]), load_schema([*SCHEMA, NEW]), seed=SEED)
print(f"workload: {workload.histories} histories, {len(workload.transactions)} transactions, e.g.\n  "
      + "\n  ".join("; ".join(t.old)[:160] for t in workload.transactions[:3]))

traffic: dict[str, Counter] = {}
examples: dict[str, dict] = {}
with EphemeralPostgres.start() as server:
    print("PostgreSQL", server.version)
    for label, files in (("old", [*SCHEMA, OLD]), ("new", [*SCHEMA, NEW])):
        results = []
        with server.create_database(files=files) as db:
            for number, transaction in enumerate(workload.transactions):
                if number == 0 or transaction.history != workload.transactions[number - 1].history:
                    db.reset()  # each history starts from empty tables, as in the review
                steps = transaction.old if label == "old" else transaction.new
                results.append(db.run_transaction(list(steps), commit=transaction.commit))
        counter: Counter = Counter()
        for result in results:
            for n in result.notifications:
                counter[("pg_notify (public)", UUID.sub("{uuid}", n.channel))] += 1
                if n.json and n.json.get("type") == "bid_update" and "bid" not in examples.get(label, {}):
                    examples.setdefault(label, {})["bid"] = {"channel": n.channel, "payload": n.json}
            for m in result.messages:
                kind = "realtime.send (private)" if m.private else "realtime.send (public)"
                counter[(kind, UUID.sub("{uuid}", m.topic))] += 1
                if m.event == "bid_update" and "bid" not in examples.get(label, {}):
                    sent = {"topic": m.topic, "private": m.private, "payload": m.payload}
                    examples.setdefault(label, {})["bid"] = sent
        traffic[label] = counter
        failed = sum(1 for r in results if not r.committed)
        print(f"{label}: {sum(counter.values())} messages, {failed} transactions failed")

# %%
destinations = sorted({d for c in traffic.values() for _, d in c})
transports = ["pg_notify (public)", "realtime.send (public)", "realtime.send (private)"]
transport_colour = dict(zip(transports, ["#8c8c8c", "#55a868", "#8172b2"], strict=True))
fig, ax = plt.subplots(figsize=(13, 0.55 * len(destinations) + 1.5))
y = np.arange(len(destinations))
for offset, label in ((-0.2, "old"), (0.2, "new")):
    start = np.zeros(len(destinations))
    for transport in transports:
        counts = np.array([traffic[label].get((transport, d), 0) for d in destinations])
        ax.barh(y + offset, counts, height=0.38, left=start, color=transport_colour[transport],
                hatch="//" if label == "old" else None, edgecolor="white",
                label=f"{label}: {transport}" if counts.any() else None)
        start += counts
    for yi, total in zip(y, start, strict=True):
        if total:
            ax.text(total + 0.3, yi + offset, label, va="center", fontsize=8)
ax.set_yticks(y, destinations)
ax.invert_yaxis()
ax.set_xlabel("messages sent on the generated workload")
ax.set_title("Real traffic per destination: old triggers (hatched) against new")
ax.legend(fontsize=8, loc="lower right")
fig.tight_layout()
plt.show()

# %% [markdown]
# One bid, as each version sends it. The old payload goes out by `pg_notify` (which Realtime never
# delivers) and names the bidder on a channel anyone can join; the new one is a `realtime.send` row
# with the bid's own id and no personal data.

# %%
for label in ("old", "new"):
    print(f"--- {label}")
    print(json.dumps(examples.get(label, {}).get("bid"), indent=2, default=str))

# %% [markdown]
# **The reviewer's verdict.** The change moves every message to `realtime.send`, so for the first time
# the triggers reach subscribers at all; admin traffic moves to private topics, personal ids leave the
# public payloads, and the unbounded and `NOW()`-stamped fields go. The errors in the report are the
# price: subscribers that read `bidder_id`, `artist_name` or `timestamp`, or join the admin topics as
# public channels, break in the same release — the client side has to move with the SQL.
# `render(report, "github")` turns the same entries into workflow annotations on the pull request:

# %%
print("\n".join(render(report, "github").splitlines()[:8]))
