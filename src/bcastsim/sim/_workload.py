"""The live event as a timeline of database writes: rounds, vote bursts, auction bids, media uploads.

Everything is drawn from the ``workload`` stream, so every architecture of one run (and every
rollout stage) sees the very same writes at the very same times.
"""

from __future__ import annotations

import random

import attrs

from bcastsim.sim._scenario import Scenario

__all__ = ["Artwork", "Round", "Workload", "Write", "build_workload"]


@attrs.frozen
class Round:
    number: int
    start_ms: float
    end_ms: float
    artworks: tuple[int, ...]


@attrs.frozen
class Artwork:
    index: int
    round: int
    created_ms: float  # final-round canvases appear when that round starts
    art_id: str


@attrs.frozen
class Write:
    time_ms: float
    kind: str  # bid, vote, winner, auction, media, contestant, art_insert
    art: int
    seq: int


@attrs.frozen
class Workload:
    rounds: tuple[Round, ...]
    artworks: tuple[Artwork, ...]
    writes: tuple[Write, ...]
    event_id: str

    def count(self, kind: str) -> int:
        return sum(1 for w in self.writes if w.kind == kind)


def _uuid(rng: random.Random) -> str:
    value = f"{rng.getrandbits(128):032x}"
    return f"{value[:8]}-{value[8:12]}-4{value[13:16]}-a{value[17:20]}-{value[20:32]}"


def build_workload(scenario: Scenario, rng: random.Random) -> Workload:
    ev, votes, auction = scenario.event, scenario.votes, scenario.auction
    audience = scenario.clients.audience
    end_ms = scenario.scenario.duration_s * 1000.0
    event_id = _uuid(rng)

    half = ev.painters // 2
    r1 = ev.first_round_start_s * 1000.0
    r2 = r1 + (ev.round_s + ev.break_s) * 1000.0
    r3 = r2 + (ev.round_s + ev.break_s) * 1000.0
    finalists = min(ev.finalists_per_round, half) * 2
    artworks: list[Artwork] = []
    for i in range(half):
        artworks.append(Artwork(i, 1, 0.0, _uuid(rng)))
    for i in range(ev.painters - half):
        artworks.append(Artwork(half + i, 2, 0.0, _uuid(rng)))
    for i in range(finalists):
        artworks.append(Artwork(ev.painters + i, 3, r3, _uuid(rng)))
    rounds = (
        Round(1, r1, r1 + ev.round_s * 1000.0, tuple(a.index for a in artworks if a.round == 1)),
        Round(2, r2, r2 + ev.round_s * 1000.0, tuple(a.index for a in artworks if a.round == 2)),
        Round(3, r3, r3 + ev.final_round_s * 1000.0, tuple(a.index for a in artworks if a.round == 3)),
    )

    raw: list[tuple[float, str, int]] = []
    for rnd in rounds:
        for k, art in enumerate(rnd.artworks):
            raw.append((rnd.start_ms - 60_000.0 + k * 500.0, "contestant", art))
            if rnd.number == 3:
                raw.append((rnd.start_ms - 61_000.0 + k * 500.0, "art_insert", art))
        # Votes: a share of the audience votes once per round, bunching towards the round's end.
        voters = round(audience * votes.participation)
        length = rnd.end_ms - rnd.start_ms
        burst = min(votes.burst_s * 1000.0, length)
        for _ in range(voters):
            if rng.random() < votes.early_fraction:
                t = rnd.start_ms + rng.random() * length
            else:
                t = rnd.end_ms - burst * rng.random() ** votes.burst_skew
            raw.append((t, "vote", rnd.artworks[rng.randrange(len(rnd.artworks))]))
        # Media: progress photos spread over the painting round.
        for art in rnd.artworks:
            for _ in range(scenario.media.photos_per_artwork):
                raw.append((rnd.start_ms + rng.random() * (length + 60_000.0), "media", art))
        # Winners announced a minute after voting closes.
        winners = 1 if rnd.number == 3 else min(ev.finalists_per_round, len(rnd.artworks))
        for k in range(winners):
            raw.append((rnd.end_ms + 60_000.0 + k * 2_000.0, "winner", rnd.artworks[k]))

    # Silent auction: timing set when each artwork opens, closes staggered, bids bunch near the close.
    open_ms = auction.open_s * 1000.0
    close_ms = auction.close_s * 1000.0
    window = auction.close_window_s * 1000.0
    for artwork in artworks:
        opens = max(open_ms, artwork.created_ms)
        closes = close_ms + artwork.index * auction.close_stagger_s * 1000.0
        raw.append((opens + 1_000.0 + artwork.index * 200.0, "auction", artwork.index))
        raw.append((closes, "auction", artwork.index))
        early_end = max(opens, closes - window)
        for _ in range(auction.bids_per_artwork):
            if rng.random() < auction.close_fraction:
                t = closes - min(window, closes - opens) * rng.random() ** auction.close_skew
            else:
                t = opens + rng.random() * (early_end - opens)
            raw.append((t, "bid", artwork.index))

    kept = sorted((t, kind, art) for t, kind, art in raw if 0.0 <= t < end_ms)
    writes = tuple(Write(round(t, 3), kind, art, seq) for seq, (t, kind, art) in enumerate(kept))
    return Workload(rounds, tuple(artworks), writes, event_id)
