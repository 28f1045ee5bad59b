"""A snapshot is never read by the wrong model, and rot is reported, never ignored."""

import hashlib
import sqlite3

import pytest

from docqa.errors import CorruptSnapshot, ModelMismatch, SnapshotNotFound
from docqa.models import FORMER_DEFAULTS

from store_fixtures import FP_A, FP_B

FIX = ("answer from an intact one (`docqa check notes` lists them) or drop the damaged ones with "
       "`docqa check notes --repair`")


def test_model_mismatch_names_both_models(store, corpus, make_memory):
    store.save_snapshot(corpus, make_memory(1), position=0)
    with pytest.raises(ModelMismatch) as e:
        store.load_snapshot(corpus, model_fingerprint=FP_B, model_name="tiny-b")
    assert str(e.value) == (
        "corpus 'notes' was built with model tiny-a (fingerprint aaaaaaaaaaaaaaaa), not with tiny-b "
        "(fingerprint bbbbbbbbbbbbbbbb): use the model it was built with, or ingest into a new corpus")


def test_a_corpus_of_a_former_default_model_names_where_that_model_is(store):
    """After an upgrade changes the default, the refusal says which model answers the old corpus."""
    fp, path = next(iter(FORMER_DEFAULTS.items()))
    store.get_or_create_corpus("old", fp, "small@" + fp[:12])
    with pytest.raises(ModelMismatch) as e:
        store.get_or_create_corpus("old", FP_B, "tiny-b")
    assert str(e.value) == (
        f"corpus 'old' was built with model small@{fp[:12]} (fingerprint {fp[:16]}), not with tiny-b "
        f"(fingerprint bbbbbbbbbbbbbbbb): that is a former docqa default, {path} in docqa's repository: "
        f"answer with it (--model {path}), or ingest into a new corpus")


def test_get_or_create_refuses_another_model(store, corpus):
    assert store.get_or_create_corpus(corpus, FP_A, "tiny-a").name == corpus
    with pytest.raises(ModelMismatch, match="built with model tiny-a .* not with tiny-b"):
        store.get_or_create_corpus(corpus, FP_B, "tiny-b")


def _flip_byte(db_path, sql_select, sql_update, offset):
    """Rot one byte behind the store's back, through a plain sqlite3 connection."""
    con = sqlite3.connect(db_path)
    (blob,) = con.execute(sql_select).fetchone()
    rotten = bytearray(blob)
    rotten[offset] ^= 0x01
    with con:
        con.execute(sql_update, [bytes(rotten)])
    con.close()
    return hashlib.sha256(blob).hexdigest(), hashlib.sha256(rotten).hexdigest()


def test_corrupted_layer_blob_is_reported_with_corpus_and_snapshot(db_path, store, corpus, make_memory):
    sid = store.save_snapshot(corpus, make_memory(1), position=0)
    stored, computed = _flip_byte(
        db_path, f"SELECT blob FROM snapshot_layers WHERE snapshot_id = {sid} AND layer = 1",
        f"UPDATE snapshot_layers SET blob = ? WHERE snapshot_id = {sid} AND layer = 1", offset=-3)  # in the data
    with pytest.raises(CorruptSnapshot) as e:
        store.load_snapshot(corpus, sid, model_fingerprint=FP_A)
    assert str(e.value) == (
        f"corpus 'notes' snapshot {sid} is corrupt: layer 1 checksum mismatch "
        f"(stored {stored[:16]}, computed {computed[:16]}); " + FIX)


def test_corrupted_pending_blob_is_reported(db_path, store, corpus, make_memory):
    sid = store.save_snapshot(corpus, make_memory(1), position=0)
    _flip_byte(db_path, f"SELECT pending FROM snapshots WHERE id = {sid}",
               f"UPDATE snapshots SET pending = ? WHERE id = {sid}", offset=-1)
    with pytest.raises(CorruptSnapshot, match=f"corpus 'notes' snapshot {sid} is corrupt: pending tokens checksum"):
        store.load_snapshot(corpus, model_fingerprint=FP_A)


def test_a_missing_layer_row_is_corruption(db_path, store, corpus, make_memory):
    sid = store.save_snapshot(corpus, make_memory(1), position=0)
    con = sqlite3.connect(db_path)
    with con:
        con.execute("DELETE FROM snapshot_layers WHERE snapshot_id = ? AND layer = 2", [sid])
    con.close()
    with pytest.raises(CorruptSnapshot) as e:
        store.load_snapshot(corpus, model_fingerprint=FP_A)
    assert str(e.value) == (f"corpus 'notes' snapshot {sid} is corrupt: expected layers 0..2, found [0, 1]; " + FIX)


def test_blob_that_matches_its_checksum_but_is_not_safetensors(db_path, store, corpus, make_memory):
    sid = store.save_snapshot(corpus, make_memory(1), position=0)
    junk = b"not safetensors"
    con = sqlite3.connect(db_path)
    with con:
        con.execute("UPDATE snapshot_layers SET blob = ?, sha256 = ? WHERE snapshot_id = ? AND layer = 0",
                    [junk, hashlib.sha256(junk).hexdigest(), sid])
    con.close()
    with pytest.raises(CorruptSnapshot, match=rf"^corpus 'notes' snapshot {sid} is corrupt: layer 0 memory cannot be decoded"):
        store.load_snapshot(corpus, model_fingerprint=FP_A)


def test_no_snapshot_yet_and_unknown_snapshot(store, corpus):
    with pytest.raises(SnapshotNotFound) as e:
        store.load_snapshot(corpus, model_fingerprint=FP_A)
    assert str(e.value) == "corpus 'notes' has no snapshot yet: ingest documents into it first"
    with pytest.raises(SnapshotNotFound) as e:
        store.load_snapshot(corpus, 42, model_fingerprint=FP_A)
    assert str(e.value) == "corpus 'notes' has no snapshot 42: see its snapshots with `docqa show notes`"
    assert store.current_snapshot(corpus) is None


def test_snapshot_of_another_corpus_is_not_found(store, corpus, make_memory):
    store.create_corpus("other", FP_A, "tiny-a")
    sid = store.save_snapshot("other", make_memory(1), position=0)
    with pytest.raises(SnapshotNotFound):
        store.load_snapshot(corpus, sid, model_fingerprint=FP_A)
    with pytest.raises(SnapshotNotFound, match="has no snapshot .* to be the parent"):
        store.save_snapshot(corpus, make_memory(2), position=1, parent=sid)
