"""Snapshots come back bit-exact, with their bookkeeping."""

import math

import torch

from docqa.store import NewSource, Store

from store_fixtures import FP_A


def test_round_trip_is_bit_exact(store, corpus, make_memory):
    m = make_memory(7)
    m.layers[0].M[0, 0, 0, :4] = torch.tensor([math.nan, math.inf, -0.0, 1e-45])  # nan, inf, -0, denormal
    sid = store.save_snapshot(corpus, m, position=0)
    back = store.load_snapshot(corpus, sid, model_fingerprint=FP_A)
    # Compared as bits: torch.equal (and so Memory.equal) says nan != nan, and -0.0 == 0.0.
    for a, b in zip(back.layers, m.layers, strict=True):
        assert torch.equal(a.M.view(torch.int32), b.M.view(torch.int32))
        assert torch.equal(a.z.view(torch.int32), b.z.view(torch.int32))
    assert torch.equal(back.pending, m.pending) and back.pending.dtype == torch.long
    assert back.segments == 7


def test_round_trip_equal(store, corpus, make_memory):
    m = make_memory(8)
    store.save_snapshot(corpus, m, position=0)
    assert store.load_snapshot(corpus, model_fingerprint=FP_A).equal(m)


def test_batched_memory_and_a_fresh_connection(db_path, store, corpus, make_memory):
    m = make_memory(3, n_layer=5, batch=2, pending=0)
    store.save_snapshot(corpus, m, position=0)
    with Store(db_path) as other:
        assert other.load_snapshot(corpus, model_fingerprint=FP_A).equal(m)


def test_current_snapshot_follows_saves_and_old_ones_stay_loadable(store, corpus, make_memory):
    first = store.save_snapshot(corpus, make_memory(1), position=2,
                                sources=[NewSource(0, "a.txt", tokens=10, size=100), NewSource(1, "b.txt", tokens=5, size=50)])
    second = store.save_snapshot(corpus, make_memory(2), position=3, parent=first, kind="final",
                                 sources=[NewSource(2, "c.txt", tokens=1, size=7)])
    assert store.load_snapshot(corpus, model_fingerprint=FP_A).equal(make_memory(2))
    assert store.load_snapshot(corpus, first, model_fingerprint=FP_A).equal(make_memory(1))
    snap = store.current_snapshot(corpus)
    assert (snap.id, snap.parent_id, snap.kind, snap.position, snap.covers_from, snap.tokens, snap.segments,
            snap.n_layers, snap.is_current) == (second, first, "final", 3, 2, 16, 2, 3, True)
    assert [s.id for s in store.list_snapshots(corpus)] == [first, second]
    assert [s.is_current for s in store.list_snapshots(corpus)] == [False, True]
    info = store.get_corpus(corpus)
    assert (info.sources, info.bytes, info.tokens, info.segments, info.current_snapshot_id, info.snapshots) == (
        3, 157, 16, 2, second, 2)
    assert info.snapshot_bytes == sum(s.nbytes for s in store.list_snapshots(corpus))


def test_make_current_false_keeps_the_current_pointer(store, corpus, make_memory):
    first = store.save_snapshot(corpus, make_memory(1), position=1)
    store.save_snapshot(corpus, make_memory(2), position=2, parent=first, make_current=False)
    assert store.current_snapshot(corpus).id == first


def test_tokens_add_up_along_the_parents_and_segments_come_from_the_memory(store, corpus, make_memory):
    first = store.save_snapshot(corpus, make_memory(4), position=1, sources=[NewSource(0, "a", tokens=30)])
    memory = make_memory(5)
    sid = store.save_snapshot(corpus, memory, position=3, parent=first,
                              sources=[NewSource(1, "b", tokens=12), NewSource(2, "c", status="skipped")])
    snap = store.get_snapshot(corpus, sid)
    assert (snap.tokens, snap.segments) == (42, memory.segments)


def test_load_onto_a_device(store, corpus, make_memory):
    store.save_snapshot(corpus, make_memory(1), position=0)
    back = store.load_snapshot(corpus, model_fingerprint=FP_A, device="cpu")
    assert back.layers[0].M.device.type == "cpu"
