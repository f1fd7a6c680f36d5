"""One seeded random tree: every subsystem draws from its own stream derived from (seed, name).

Deriving streams by name (not by draw order) keeps a change in one subsystem from shifting the
random numbers of every other one, so a scenario edit moves only what it touches.
"""

from __future__ import annotations

import hashlib
import random

__all__ = ["RandomTree", "sub_seed"]


def sub_seed(seed: int, name: str) -> int:
    """A 64-bit seed for stream ``name`` under ``seed``; stable across processes and platforms."""
    digest = hashlib.sha256(f"bcastsim:{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


class RandomTree:
    """Named, independent ``random.Random`` streams under one seed."""

    def __init__(self, seed: int, path: str = "") -> None:
        self.seed = seed
        self.path = path

    def child(self, name: str) -> RandomTree:
        return RandomTree(self.seed, f"{self.path}/{name}" if self.path else name)

    def stream(self, name: str) -> random.Random:
        full = f"{self.path}/{name}" if self.path else name
        return random.Random(sub_seed(self.seed, full))
