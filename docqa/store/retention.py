"""Which earlier snapshots a corpus keeps: as many as asked for, spread evenly over its stream.

Attribution (docqa.attribution) replays the stretch of stream between two kept checkpoints, and
an incremental re-ingest rewinds to the kept checkpoint before the first change; both cost the
tokens in that stretch. A source or a change is as likely anywhere in the stream, so what
matters is the longest stretch: thinning drops, one at a time, the snapshot whose removal leaves
the shortest merged stretch (measured in tokens), which keeps the stretches even (a stream that
grows past `keep` checkpoints loses every other one, doubling their spacing). Keeping the newest
only, as before, left the start of a long stream without any checkpoint.
"""

from __future__ import annotations

import heapq

# An ingest checkpoints at the first document boundary after this many new segments (or
# `checkpoint_seconds`). 64 segments are 4,096 tokens of the byte model this was measured with
# (8,192 of the default since December): a replay of at most that (plus one document) took about a
# second on one busy CPU core, and a checkpoint costs one snapshot (98.9 KB for the default model;
# the README's "Sources" has the store sizes).
DEFAULT_CHECKPOINT_SEGMENTS = 64


def thin(points: list[tuple[int, int]], keep: int, end: int) -> list[int]:
    """The ids to drop from `points` ((id, tokens) of the earlier snapshots) so that `keep` remain,
    spread over the stream [0, end] (`end`: the tokens of the snapshot kept at its end, the
    current one). Of two snapshots at one place the older goes first, before any other; one at
    the stream's start or end holds nothing the empty memory or the current one does not."""
    if len(points) <= keep:
        return []
    order = sorted(points, key=lambda p: (p[1], p[0]))
    ids = [p[0] for p in order]
    at = [p[1] for p in order]
    end = max([end, *at])
    prev = list(range(-1, len(order) - 1))
    nxt = list(range(1, len(order) + 1))

    def merged(i: int) -> int:  # the stretch left if point i goes: none where another holds its place
        left = at[prev[i]] if prev[i] >= 0 else 0
        right = at[nxt[i]] if nxt[i] < len(order) else end
        return 0 if at[i] in (left, right) else right - left

    heap = [(merged(i), ids[i], i) for i in range(len(order))]
    heapq.heapify(heap)
    gone, dropped = set(), []
    while len(order) - len(gone) > keep:
        gap, sid, i = heapq.heappop(heap)
        if i in gone or gap != merged(i):
            continue  # stale entry: a neighbour went since it was pushed
        gone.add(i)
        dropped.append(sid)
        p, n = prev[i], nxt[i]
        if p >= 0:
            nxt[p] = n
            heapq.heappush(heap, (merged(p), ids[p], p))
        if n < len(order):
            prev[n] = p
            heapq.heappush(heap, (merged(n), ids[n], n))
    return dropped
