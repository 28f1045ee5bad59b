"""Sources, rewinds, retention, and conversations."""

from dataclasses import dataclass, field

import pytest

from docqa.errors import ConversationNotFound, CorpusNotFound, InputError, StoreError
from docqa.store import DEFAULT_KEEP_CHECKPOINTS, NewSource

from store_fixtures import FP_A


@dataclass(frozen=True)
class Doc:  # the shape of connectors.document.Document, which the store reads by attribute
    id: str
    uri: str
    hash: str
    metadata: dict = field(default_factory=dict)
    text: str = ""


@dataclass(frozen=True)
class Skip:  # the shape of connectors.document.Skipped
    uri: str
    reason: str
    kind: str = "skipped"
    error: str | None = None


def test_ingest_pipeline_items_are_recorded_with_their_snapshot(store, corpus, make_memory):
    items = [(0, Doc("a.py", "/r/a.py", "h1", {"connector": "repo", "size": 120}, "x = 1"), 9),
             (1, Skip("/r/logo.png", "binary file (.png)"), 0),
             (2, Skip("/r/secret", "unreadable", "failed", "Permission denied"), 0),
             (3, Doc("b.md", "/r/b.md", "h2", {}, "héllo"), 4)]
    sid = store.save_snapshot(corpus, make_memory(1), position=4, sources=items)
    got = store.list_sources(corpus)
    assert [(s.position, s.status, s.uri, s.doc_id, s.content_hash, s.connector, s.size, s.tokens, s.reason,
             s.error, s.snapshot_id) for s in got] == [
        (0, "ingested", "/r/a.py", "a.py", "h1", "repo", 120, 9, None, None, sid),
        (1, "skipped", "/r/logo.png", None, None, None, None, 0, "binary file (.png)", None, sid),
        (2, "failed", "/r/secret", None, None, None, None, 0, "unreadable", "Permission denied", sid),
        (3, "ingested", "/r/b.md", "b.md", "h2", None, 6, 4, None, None, sid),
    ]
    assert [s.uri for s in store.list_sources(corpus, status="skipped")] == ["/r/logo.png"]
    info = store.get_corpus(corpus)
    assert (info.sources, info.skipped, info.failed, info.bytes, info.tokens) == (2, 1, 1, 126, 13)
    with pytest.raises(InputError, match="source status must be one of ingested, skipped, failed, got 'gone'"):
        store.list_sources(corpus, status="gone")


def test_a_duplicate_position_refuses_the_whole_snapshot(store, corpus, make_memory):
    first = store.save_snapshot(corpus, make_memory(1), position=3, sources=[
        NewSource(0, "a.txt", size=3, tokens=2), NewSource(1, "b.txt"),
        NewSource(2, "c.bin", status="skipped", reason="binary")])
    with pytest.raises(StoreError, match=r"corpus 'notes' already has a source at position 1 .*delete_sources_from\(1\) first"):
        store.save_snapshot(corpus, make_memory(2), position=4, parent=first,
                            sources=[NewSource(3, "d.txt"), NewSource(1, "again.txt")])
    assert [s.uri for s in store.list_sources(corpus)] == ["a.txt", "b.txt", "c.bin"]  # all or none
    assert [s.id for s in store.list_snapshots(corpus)] == [first]


def _chain(store, corpus, make_memory, positions):
    """Snapshots at these positions, each the parent of the next, one source per position."""
    ids, parent, start = [], None, 0
    for seed, pos in enumerate(positions, 1):
        srcs = [NewSource(p, f"s{p}", tokens=1) for p in range(start, pos)]
        parent = store.save_snapshot(corpus, make_memory(seed), position=pos, parent=parent, sources=srcs)
        ids.append(parent)
        start = pos
    return ids


def test_latest_checkpoint_at_or_before(store, corpus, make_memory):
    a, b, c = _chain(store, corpus, make_memory, [2, 5, 9])
    assert store.latest_checkpoint_at_or_before(corpus, 1) is None
    assert store.latest_checkpoint_at_or_before(corpus, 2).id == a
    assert store.latest_checkpoint_at_or_before(corpus, 8).id == b
    assert store.latest_checkpoint_at_or_before(corpus, 100).id == c


def test_rewind_forgets_later_sources_and_supersedes_the_snapshots_that_hold_them(store, corpus, make_memory):
    a, b, c = _chain(store, corpus, make_memory, [2, 5, 9])
    assert store.delete_sources_from(corpus, 5) == 4
    assert [s.position for s in store.list_sources(corpus)] == [0, 1, 2, 3, 4]
    # c holds the old contents: it stays current (answers keep working) but superseded
    assert [(s.id, s.superseded) for s in store.list_snapshots(corpus)] == [(a, False), (b, False), (c, True)]
    assert store.current_snapshot(corpus).id == c
    assert store.latest_checkpoint_at_or_before(corpus, 100).id == b  # never resume from c
    assert store.get_corpus(corpus).sources == 5
    store.delete_sources_from(corpus, 0)
    assert [s.id for s in store.list_snapshots(corpus)] == [c] and store.current_snapshot(corpus).id == c
    assert store.latest_checkpoint_at_or_before(corpus, 100) is None
    new = store.save_snapshot(corpus, make_memory(7), position=1, sources=[NewSource(0, "s0", tokens=1)])
    assert [s.id for s in store.list_snapshots(corpus)] == [new]  # the superseded one is replaced
    assert store.get_corpus(corpus).tokens == 1


def test_prune_keeps_checkpoints_spread_over_the_stream_and_the_current(store, corpus, make_memory):
    ids = _chain(store, corpus, make_memory, [1, 2, 3, 4, 5, 6])  # one token per source
    # every other one goes, so the two kept split the stream [0, 6] evenly (at 2 and 4 tokens)
    assert store.prune_checkpoints(corpus, keep=2) == [ids[0], ids[2], ids[4]]
    assert [s.id for s in store.list_snapshots(corpus)] == [ids[1], ids[3], ids[5]]
    assert store.prune_checkpoints(corpus, keep=0) == [ids[1], ids[3]]
    assert [s.id for s in store.list_snapshots(corpus)] == [ids[5]]
    assert store.load_snapshot(corpus, model_fingerprint=FP_A).equal(make_memory(6))
    assert store.get_snapshot(corpus, ids[5]).parent_id is None  # its parent is gone
    assert store.list_sources(corpus)[0].snapshot_id is None
    with pytest.raises(InputError, match="keep must be 0 or more, got -1"):
        store.prune_checkpoints(corpus, keep=-1)


def test_prune_never_deletes_a_current_snapshot_that_is_not_the_newest(store, corpus, make_memory):
    first = store.save_snapshot(corpus, make_memory(1), position=1)
    later = [store.save_snapshot(corpus, make_memory(s), position=1, make_current=False) for s in (2, 3)]
    store.prune_checkpoints(corpus, keep=0)
    assert [s.id for s in store.list_snapshots(corpus)] == [first]
    assert later


def test_prune_keeps_the_default_number_besides_the_current(store, corpus, make_memory, monkeypatch):
    ids = _chain(store, corpus, make_memory, list(range(1, 14)))
    assert DEFAULT_KEEP_CHECKPOINTS == 1000
    assert store.prune_checkpoints(corpus) == []
    monkeypatch.setattr(store.prune_checkpoints.__func__, "__defaults__", (10,))
    store.prune_checkpoints(corpus)
    assert len(store.list_snapshots(corpus)) == 11 and store.current_snapshot(corpus).id == ids[-1]
    with pytest.raises(CorpusNotFound):
        store.prune_checkpoints("nope")


def test_bad_snapshot_arguments(store, corpus, make_memory):
    with pytest.raises(InputError, match="snapshot kind must be one of checkpoint, final, got 'done'"):
        store.save_snapshot(corpus, make_memory(1), position=0, kind="done")
    parent = store.save_snapshot(corpus, make_memory(1), position=5)
    with pytest.raises(InputError, match=f"snapshot position 3 is before its parent {parent}'s \\(5\\)"):
        store.save_snapshot(corpus, make_memory(2), position=3, parent=parent)


def test_conversations(store, corpus, make_memory):
    assert store.latest_conversation(corpus) is None
    sid = store.save_snapshot(corpus, make_memory(1), position=0)
    first = store.create_conversation(corpus, sid)
    second = store.create_conversation(corpus)
    store.add_turn(second, "user", "What is in the repo?")
    store.add_turn(second, "assistant", "A parser.")
    conv = store.latest_conversation(corpus)
    assert (conv.id, conv.corpus, conv.snapshot_id) == (second, corpus, None)
    assert [(t.role, t.content) for t in conv.turns] == [("user", "What is in the repo?"), ("assistant", "A parser.")]
    assert store.get_conversation(first).snapshot_id == sid
    with pytest.raises(InputError, match="turn role must be one of system, user, assistant, got 'bot'"):
        store.add_turn(first, "bot", "x")
    with pytest.raises(ConversationNotFound, match="no conversation 99 in "):
        store.add_turn(99, "user", "x")
