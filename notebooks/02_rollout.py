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
# # Rollout: who gets broadcast, and who flips
#
# The migration plan rolls broadcast out in stages — 5 % → 25 % → 50 % → 75 % → 100 % — with
# `shouldUseBroadcast` in `featureFlags.js`:
#
# ```js
# const userHash = userId ? hashCode(userId) : hashCode(getSessionId());
# return (Math.abs(userHash) % 100) < FEATURE_FLAGS.BROADCAST_PERCENTAGE;
# ```
#
# `bcastsim.client` reproduces that code bit for bit (`hash_code` walks UTF-16 code units and wraps to
# 32 bits like JavaScript). This notebook asks three questions:
#
# 1. Is the hash spread evenly over the ids the app really has — Supabase user uuids, e-mails, and the
#    seed's session ids `session_<ms>_<9 base36 chars>`?
# 2. Does each stage put the intended share of people on broadcast, and does a person stay on
#    broadcast once a stage has moved them there?
# 3. Who switches architecture between an anonymous visit (hashed by session id) and a logged-in visit
#    (hashed by user id)?
#
# Every id below comes from one seeded `random.Random`, so the figures are the same on every run.

# %%
import random
import string
import uuid

import matplotlib.pyplot as plt
import numpy as np

from bcastsim.client import STAGES, RolloutFlags, SeedRollout, StickyRollout, Visit, hash_code, in_rollout

# %% tags=["parameters"]
# Parameters: papermill (or any notebook runner) injects new values after this cell (docs/notebooks.md).
SEED = 20250817
N = 10_000  # ids per kind
AUDIENCE = 2_000  # concurrent users at a major show

# %%
BASE36 = string.digits + string.ascii_lowercase

rng = random.Random(SEED)


def make_uuid(rng: random.Random) -> str:
    # A version-4 uuid drawn from the seeded generator, as Supabase auth hands out.
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


FIRST = ["anna", "ben", "chloe", "diego", "emma", "farid", "grace", "hugo", "ines", "jack", "kira", "liam",
         "maya", "noah", "olga", "pedro", "quinn", "rosa", "sam", "tara", "uma", "victor", "wen", "yara", "zoe"]
LAST = ["smith", "nguyen", "garcia", "müller", "rossi", "tanaka", "kowalski", "silva", "dubois", "patel",
        "oconnor", "kim", "jensen", "novak", "haddad", "lopez", "singh", "brown", "wilson", "martin"]
DOMAINS = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com", "artbattle.com", "proton.me"]


def make_email(rng: random.Random) -> str:
    name = f"{rng.choice(FIRST)}{rng.choice(['.', '_', ''])}{rng.choice(LAST)}"
    if rng.random() < 0.5:
        name += str(rng.randrange(1, 2000))
    return f"{name}@{rng.choice(DOMAINS)}"


# Session ids are minted on the first visit and kept in localStorage: first visits spread over the
# month before the event (Date.now() in milliseconds).
EVENT_MS = 1_756_080_000_000


def make_session_id(rng: random.Random) -> str:
    ms = EVENT_MS - rng.randrange(30 * 24 * 3600 * 1000)
    return f"session_{ms}_{''.join(rng.choice(BASE36) for _ in range(9))}"


ids = {
    "user uuid": [make_uuid(rng) for _ in range(N)],
    "e-mail": [make_email(rng) for _ in range(N)],
    "session id": [make_session_id(rng) for _ in range(N)],
}
for kind, values in ids.items():
    print(f"{kind:>10}: {values[0]}, {values[1]}, …")

# %% [markdown]
# ## 1. The bucket `abs(hashCode(id)) % 100`
#
# A person is on broadcast at stage *p* exactly when their bucket is below *p*. If the buckets are
# uniform, each stage gets its share. The dashed line is the uniform expectation; the χ² statistic has
# 99 degrees of freedom (values above about 123 would reject uniformity at the 5 % level).

# %%
buckets = {kind: np.array([abs(hash_code(v)) % 100 for v in values]) for kind, values in ids.items()}


def chi_square(bucket: np.ndarray) -> float:
    counts = np.bincount(bucket, minlength=100)
    expected = len(bucket) / 100
    return float(((counts - expected) ** 2 / expected).sum())


# Wilson–Hilferty approximation of the 95th percentile of χ² with 99 degrees of freedom.
DOF = 99
CRITICAL = DOF * (1 - 2 / (9 * DOF) + 1.6449 * (2 / (9 * DOF)) ** 0.5) ** 3

fig, axes = plt.subplots(1, 3, figsize=(14, 3.6), sharey=True)
for ax, (kind, bucket) in zip(axes, buckets.items(), strict=True):
    counts = np.bincount(bucket, minlength=100)
    ax.bar(np.arange(100), counts, width=1.0, color="tab:blue", alpha=0.75)
    ax.axhline(N / 100, color="black", linestyle="--", linewidth=1)
    ax.set_title(f"{kind}: χ² = {chi_square(bucket):.0f} (5 % critical ≈ {CRITICAL:.0f})")
    ax.set_xlabel("bucket = abs(hashCode(id)) % 100")
axes[0].set_ylabel(f"ids out of {N:,}")
fig.suptitle("Distribution of the rollout bucket over real-looking ids")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 2. Each stage's share, and nested cohorts
#
# Left: the share of each id kind that each stage puts on broadcast, against the target. The grey band
# is the spread one would see in a single audience of 2,000 (± 2 binomial standard deviations).
#
# Right: raising the percentage only adds people — a person whose bucket is below 5 is also below 25.
# The chart counts, for each stage change, how many people move *into* and *out of* broadcast (by the
# library's `in_rollout`, for the logged-in identity).

# %%
stages = np.array(STAGES)
fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.2))
sd = np.sqrt(stages / 100 * (1 - stages / 100) / AUDIENCE) * 100
left.fill_between(stages, stages - 2 * sd, stages + 2 * sd, color="0.85", label="±2σ for 2,000 people")
left.plot(stages, stages, color="black", linestyle="--", linewidth=1, label="target")
for kind, values in ids.items():
    share = [100 * sum(in_rollout(v, p) for v in values) / len(values) for p in STAGES]
    left.plot(stages, share, marker="o", label=kind)
left.set_xticks(stages)
left.set_xlabel("stage: BROADCAST_PERCENTAGE")
left.set_ylabel("% of ids on broadcast")
left.set_title("Share on broadcast per stage")
left.legend()

users = ids["user uuid"]
transitions = list(zip((0, *STAGES[:-1]), STAGES, strict=True))
moved_in, moved_out = [], []
for before, after in transitions:
    was = [before > 0 and in_rollout(u, before) for u in users]
    now = [in_rollout(u, after) for u in users]
    moved_in.append(sum(1 for a, b in zip(was, now, strict=True) if b and not a))
    moved_out.append(sum(1 for a, b in zip(was, now, strict=True) if a and not b))
labels = [f"{a}→{b} %" for a, b in transitions]
x = np.arange(len(labels))
right.bar(x - 0.2, moved_in, width=0.4, label="move to broadcast", color="tab:green")
right.bar(x + 0.2, moved_out, width=0.4, label="move back to postgres_changes", color="tab:red")
right.set_xticks(x, labels)
right.set_ylabel(f"people out of {N:,}")
right.set_title("Who moves at each stage change")
right.legend()
fig.tight_layout()
plt.show()
print("people moved back to postgres_changes by a stage increase:", sum(moved_out))

# %% [markdown]
# ## 3. Logging in moves people between architectures
#
# An anonymous visitor is hashed by session id; the same person, once logged in, by user id. The two
# buckets are unrelated, so at stage *p* a person switches architecture with probability
# 2·p·(1 − p) — up to **half of the audience at the 50 % stage**. A person who switches mid-event
# changes page component (the seed renders `EventDetails` or `EventDetailsBroadcast`), loses the
# channel state and is counted in the other cohort's metrics, which muddies the A/B comparison the
# rollout was meant to give.
#
# The library's `StickyRollout` buckets by one id per browser that outlives login; with it nobody
# switches.

# %%
people = [Visit(user_id=u, session_id=s) for u, s in zip(ids["user uuid"], ids["session id"], strict=True)]
anonymous = [Visit(user_id=None, session_id=p.session_id) for p in people]

strategies = {"seed (user id, else session id)": SeedRollout(), "sticky (one id per browser)": StickyRollout()}
flip_share: dict[str, list[float]] = {}
direction: dict[str, tuple[list[int], list[int]]] = {}
for name, strategy in strategies.items():
    shares, to_bc, to_pc = [], [], []
    for p in STAGES:
        flags = RolloutFlags(percentage=p)
        before = [strategy.decide(v, flags) for v in anonymous]
        after = [strategy.decide(v, flags) for v in people]
        up = sum(1 for a, b in zip(before, after, strict=True) if b and not a)
        down = sum(1 for a, b in zip(before, after, strict=True) if a and not b)
        shares.append(100 * (up + down) / len(people))
        to_bc.append(up)
        to_pc.append(down)
    flip_share[name] = shares
    direction[name] = (to_bc, to_pc)

fine = np.linspace(0, 100, 101)
fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.2))
left.plot(fine, 200 * (fine / 100) * (1 - fine / 100), color="black", linestyle="--", linewidth=1,
          label="2·p·(1−p), independent buckets")
for name, shares in flip_share.items():
    left.plot(stages, shares, marker="o", label=name)
left.set_xticks(stages)
left.set_xlabel("stage: BROADCAST_PERCENTAGE")
left.set_ylabel("% of people who switch on login")
left.set_title("Switching architecture between an anonymous and a logged-in visit")
left.legend()

to_bc, to_pc = direction["seed (user id, else session id)"]
scale = AUDIENCE / len(people)
right.bar(x - 0.2, [scale * v for v in to_bc], width=0.4, color="tab:green", label="postgres_changes → broadcast")
right.bar(x + 0.2, [scale * v for v in to_pc], width=0.4, color="tab:red", label="broadcast → postgres_changes")
right.set_xticks(x, [f"{p} %" for p in STAGES])
right.set_ylabel("people out of an audience of 2,000")
right.set_title("Seed rollout: switches when the whole audience logs in")
right.legend()
fig.tight_layout()
plt.show()

for name, shares in flip_share.items():
    print(f"{name:>34}: " + ", ".join(f"{p} % → {s:.1f} %" for p, s in zip(STAGES, shares, strict=True)))

# %% [markdown]
# ## 4. Forty people through the rollout
#
# Each row is a person, each column a stage; the colour says which system they see before and after
# logging in. Red cells are people who browse the show on broadcast as guests and are sent back to
# `postgres_changes` the moment they log in to bid; green cells are the reverse.

# %%
sample = people[:40]
state = np.zeros((len(sample), len(STAGES)), dtype=int)
seed_rollout = SeedRollout()
for j, p in enumerate(STAGES):
    flags = RolloutFlags(percentage=p)
    for i, person in enumerate(sample):
        guest = seed_rollout.decide(Visit(user_id=None, session_id=person.session_id), flags)
        member = seed_rollout.decide(person, flags)
        state[i, j] = {(False, False): 0, (True, True): 1, (False, True): 2, (True, False): 3}[(guest, member)]

from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

colours = ["#d9d9d9", "#4c72b0", "#55a868", "#c44e52"]
names = ["postgres_changes both times", "broadcast both times", "guest pc → member broadcast",
         "guest broadcast → member pc"]
fig, ax = plt.subplots(figsize=(7, 8))
ax.imshow(state, cmap=ListedColormap(colours), vmin=0, vmax=3, aspect="auto")
ax.set_xticks(range(len(STAGES)), [f"{p} %" for p in STAGES])
ax.set_yticks(range(len(sample)), [v.user_id[:8] for v in sample], fontsize=7)
ax.set_xlabel("stage")
ax.set_ylabel("person (user id prefix)")
ax.set_title("Seed rollout: guest visit vs logged-in visit")
ax.legend(handles=[Patch(color=c, label=n) for c, n in zip(colours, names, strict=True)],
          loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# **Reading the figures.** The hash spreads all three id kinds evenly enough for the stages to hit
# their targets, and raising the percentage never moves anyone back. The problem is the identity:
# because the seed hashes a different string before and after login, the 50 % stage sends about half
# of everyone who logs in during the show to the other architecture. Bucket by an id that survives
# login (or pin the decision in storage on first visit) before comparing the cohorts.
