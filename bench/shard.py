"""Deterministic shards of a sweep: `--shard I/N` runs the I-th of N disjoint parts of the selected benchmarks.

Every shard collects the same selection (same options, same `--balance-from`) and computes the same assignment, so
the N shards together run exactly the unsharded selection, each case once. The assignment balances expected seconds,
not counts: cases are taken from the longest to the shortest and each goes to the shard with the least work so far
(longest-processing-time first; ties to the lower shard, then by case id, so it never depends on collection order).
Its heaviest shard is within 4/3 of the best possible split, and never more than one case above the mean.
"""

from __future__ import annotations


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N), 1 <= I <= N; a clear error otherwise."""
    try:
        i, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected I/N, e.g. 2/8") from None
    if n < 1 or not 1 <= i <= n:
        raise ValueError(f"--shard {text!r}: I must be between 1 and N, and N at least 1")
    return i, n


def assign(costs: dict[str, float], n: int) -> dict[str, int]:
    """Case id -> shard (1..n), balancing the summed costs (expected seconds)."""
    if n < 1:
        raise ValueError(f"cannot split into {n} shards")
    if any(c < 0 for c in costs.values()):
        raise ValueError("expected seconds cannot be negative")
    load = [0.0] * n
    out = {}
    for case in sorted(costs, key=lambda k: (-costs[k], k)):
        shard = min(range(n), key=lambda s: (load[s], s))
        load[shard] += costs[case]
        out[case] = shard + 1
    return out


def loads(costs: dict[str, float], shards: dict[str, int], n: int) -> list[float]:
    """Each shard's summed cost."""
    out = [0.0] * n
    for case, shard in shards.items():
        out[shard - 1] += costs[case]
    return out
