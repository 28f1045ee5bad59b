"""Ingest reads each source once per run, and reports progress inside long files (issue 12, items 16, 11)."""

import collections
from pathlib import Path

import pytest

import connectors.document
import connectors.pdf
import connectors.repo
from docqa.api import Corpus
from docqa.ingest import IngestOptions
from docqa.store import Store

from by_path import load_module


def _text_pdf():
    path = Path(__file__).parents[1] / "connectors" / "connector_pdfs.py"
    return load_module("connector_pdfs", path).text_pdf


PAGES = 6


@pytest.fixture
def folder(tmp_path, make_folder):
    root = make_folder(tmp_path / "src")
    # "a-manual.pdf" sorts first, so its pages are behind the first checkpoints
    lines = [f"Page {i} of the manual. " + "The valve opens at dawn. " * 6 for i in range(1, PAGES + 1)]
    (root / "a-manual.pdf").write_bytes(_text_pdf()(lines))
    return root


@pytest.fixture
def reads(monkeypatch):
    """Counts, per source, the file reads, the PDF page extractions and the text hashes."""
    counts = collections.Counter()
    read_text, page, text_hash = connectors.repo.read_text, connectors.pdf._page, connectors.document.text_hash

    def counting_read(path, *args, **kwargs):
        counts[Path(path).name] += 1
        return read_text(path, *args, **kwargs)

    def counting_page(reader, index, *args, **kwargs):
        counts[f"page {index + 1}"] += 1
        return page(reader, index, *args, **kwargs)

    def counting_hash(text):
        counts["hashes"] += 1
        return text_hash(text)

    monkeypatch.setattr(connectors.repo, "read_text", counting_read)
    monkeypatch.setattr(connectors.pdf, "_page", counting_page)
    monkeypatch.setattr(connectors.document, "text_hash", counting_hash)
    return counts


def sources_read_once(counts):
    files = {f"file{i:02d}.txt" for i in range(12)} | {"image.png"}
    pages = {f"page {i}" for i in range(1, PAGES + 1)}
    assert {k: v for k, v in counts.items() if k != "hashes"} == {k: 1 for k in files | pages}
    assert counts["hashes"] == 12 + PAGES  # the documents: every text file and page


OPTIONS = dict(checkpoint_segments=3, chunk_segments=1)


def test_a_fresh_ingest_reads_and_hashes_each_source_once(tmp_path, model_dir, folder, reads):
    report = Corpus("c", db=tmp_path / "s.db", model=model_dir).ingest(str(folder), options=IngestOptions(**OPTIONS))
    assert report.ingested == 12 + PAGES and report.checkpoints >= 3
    sources_read_once(reads)


def test_a_resumed_ingest_reads_each_source_once_pages_before_the_checkpoint_included(
        tmp_path, model_dir, folder, reads, monkeypatch):
    corpus = Corpus("c", db=tmp_path / "s.db", model=model_dir)
    save, saves = Store.save_snapshot, []

    def save_then_stop(self, *args, **kwargs):
        saves.append(save(self, *args, **kwargs))
        if len(saves) == 2:
            raise KeyboardInterrupt
        return saves[-1]

    monkeypatch.setattr(Store, "save_snapshot", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        corpus.ingest(str(folder), options=IngestOptions(**OPTIONS))
    monkeypatch.setattr(Store, "save_snapshot", save)
    with Store(tmp_path / "s.db") as store:
        kept = store.current_snapshot("c")
    assert kept.kind == "checkpoint" and 2 <= kept.position < PAGES  # some pages are behind it
    reads.clear()
    resumed = corpus.ingest(str(folder), options=IngestOptions(**OPTIONS))
    assert resumed.restreamed_from == kept.position
    sources_read_once(reads)

    straight = Corpus("c", db=tmp_path / "straight.db", model=model_dir)
    straight.ingest(str(folder), options=IngestOptions(**OPTIONS))
    assert corpus.memory()[0].equal(straight.memory()[0])


def test_an_unchanged_corpus_is_read_once_to_know_it_is_up_to_date(tmp_path, model_dir, folder, reads):
    corpus = Corpus("c", db=tmp_path / "s.db", model=model_dir)
    corpus.ingest(str(folder), options=IngestOptions(**OPTIONS))
    reads.clear()
    assert corpus.ingest(str(folder), options=IngestOptions(**OPTIONS)).up_to_date
    sources_read_once(reads)


def test_progress_moves_inside_a_long_file_and_ends_at_the_whole(tmp_path, model_dir):
    (tmp_path / "long.txt").write_text("The river winds past the mill. " * 40)  # 1,240 bytes
    (tmp_path / "short.txt").write_text("A short note.\n")
    events = []
    corpus = Corpus("c", db=tmp_path / "s.db", model=model_dir)
    corpus.ingest(str(tmp_path / "long.txt"), str(tmp_path / "short.txt"),
                  options=IngestOptions(chunk_segments=2), on_progress=events.append)
    inside = [e for e in events if e.position == 0]
    assert len(inside) >= 30  # one event per 32 tokens of the long file, before it ends
    assert [e.tokens for e in inside] == sorted(e.tokens for e in inside) and inside[0].tokens == 32
    assert all(0 < e.done_bytes < 1240 for e in inside)
    last = events[-1]
    assert (last.position, last.total_bytes) == (2, 1240 + 14)
    assert last.done_bytes == pytest.approx(last.total_bytes)
    assert last.tokens == last.streamed == corpus.info().tokens


def test_progress_counts_from_the_stream_start_on_resume(tmp_path, model_dir, make_folder, monkeypatch):
    folder = make_folder(tmp_path / "src")
    corpus = Corpus("c", db=tmp_path / "s.db", model=model_dir)
    save, saves = Store.save_snapshot, []

    def save_then_stop(self, *args, **kwargs):
        saves.append(save(self, *args, **kwargs))
        if len(saves) == 2:
            raise KeyboardInterrupt
        return saves[-1]

    monkeypatch.setattr(Store, "save_snapshot", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        corpus.ingest(str(folder), options=IngestOptions(checkpoint_segments=3))
    monkeypatch.setattr(Store, "save_snapshot", save)
    with Store(tmp_path / "s.db") as store:
        kept = store.current_snapshot("c")
    events = []
    corpus.ingest(str(folder), options=IngestOptions(checkpoint_segments=3), on_progress=events.append)
    checking = [e for e in events if e.checking]
    assert [e.position for e in checking] == list(range(1, kept.position + 1))
    assert checking[-1].tokens == kept.tokens and checking[-1].streamed == 0
    first = next(e for e in events if not e.checking)
    assert first.position == kept.position + 1 and first.tokens == kept.tokens + first.streamed
    last = events[-1]
    assert last.tokens == corpus.info().tokens and 0 < last.streamed < last.tokens
    # the estimate counts broken.pdf, which fails to open: it reads as nothing
    assert last.total_bytes - last.done_bytes == pytest.approx((folder / "broken.pdf").stat().st_size)


def test_a_rewind_past_what_was_held_reads_the_sources_again_and_still_equals_a_fresh_ingest(
        tmp_path, model_dir, make_folder, monkeypatch, reads):
    import docqa.ingest

    folder = make_folder(tmp_path / "src")
    corpus = Corpus("c", db=tmp_path / "s.db", model=model_dir)
    corpus.ingest(str(folder), options=IngestOptions(checkpoint_segments=3, keep_checkpoints=0))
    (folder / "file02.txt").write_text("Changed. The code is 999.\n")  # no checkpoint kept before it
    monkeypatch.setattr(docqa.ingest, "HOLD_BYTES", 10)  # hold almost nothing while comparing
    reads.clear()
    again = corpus.ingest(str(folder), options=IngestOptions(checkpoint_segments=3))
    assert again.restreamed_from == 0
    # the rare case: the sources up to the change (and the one read ahead) are read again, the rest once
    assert (reads["file00.txt"], reads["file02.txt"], reads["file04.txt"], reads["file11.txt"]) == (2, 2, 1, 1)
    fresh = Corpus("c", db=tmp_path / "fresh.db", model=model_dir)
    fresh.ingest(str(folder), options=IngestOptions(checkpoint_segments=3))
    assert corpus.memory()[0].equal(fresh.memory()[0])
