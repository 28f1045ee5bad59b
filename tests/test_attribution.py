"""Attribution: scoring semantics, the bisection, replay from thinned checkpoints, and what the
store looks like afterwards (untouched)."""

import functools
import math
from pathlib import Path

import pytest
import torch

from docqa.attribution import MIN_GAIN, attribute, rises, score
from docqa.errors import AttributionError, InputError
from docqa.ingest import IngestOptions, ingest
from docqa.model.base import LoadedModel, question_memory
from docqa.model.config import ModelConfig
from docqa.model.io import load_model
from docqa.model.tokenizer import ByteTokenizer
from docqa.model.transformer import InfiniTransformer
from docqa.prompt import question_tokens
from docqa.store import Store
from docqa.store.base import StoreBase
from docqa.store.store import Store as StoreClass

from needle_corpora import KEY, QUESTION, doc_bytes, needle_folder


def tiny(dtype=torch.float32) -> LoadedModel:
    torch.manual_seed(0)
    model = InfiniTransformer(ModelConfig.from_name("test", segment_len=16)).to(dtype)
    return LoadedModel(model, ByteTokenizer(), model.cfg, "0" * 64, Path("."))


def decoded_log_prob(lm, memory, prompt, answer, align=True) -> float:
    """The same quantity another way: cached decoding as `generate` runs it (the question placed
    in its segment by question_memory, unless not `align`), token by token, log-softmaxes summed."""
    dec = lm.model.decoder(question_memory(lm.model, memory, len(prompt)) if align else memory)
    logits, total = dec.feed(torch.tensor([prompt])), 0.0
    for t in answer:
        total += float(torch.log_softmax(logits[0].double(), -1)[t])
        logits = dec.feed(torch.tensor([[t]]))
    return total


@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-9), (torch.float32, 1e-4)])
def test_score_is_the_sum_of_teacher_forced_log_probs(dtype, tol):
    lm = tiny(dtype)
    memory = lm.model.ingest(torch.randint(0, 256, (1, 45)), lm.model.new_memory(1))
    assert memory.pending.shape[1] == 13  # the prompt continues a pending tail and crosses a segment
    prompt, answer = list(range(65, 85)), [70, 71, 72, 73, 74, 75, 76]
    before = memory.clone()
    got = score(lm, memory, prompt, answer)
    assert got == pytest.approx(decoded_log_prob(lm, memory, prompt, answer), abs=tol)
    assert got < 0 and memory.equal(before)


def test_score_asks_the_question_in_the_segment_answering_asks_it_in():
    lm = tiny(torch.float64)
    memory = lm.model.ingest(torch.randint(0, 256, (1, 45)), lm.model.new_memory(1))
    prompt, answer = [65, 66, 67, 68, 69], [70, 71, 72, 73, 74, 75, 76]  # 13 pending + 5 would straddle
    before = memory.clone()
    got = score(lm, memory, prompt, answer)
    assert got == pytest.approx(decoded_log_prob(lm, memory, prompt, answer), abs=1e-9)
    assert got != pytest.approx(decoded_log_prob(lm, memory, prompt, answer, align=False), abs=1e-6)
    assert memory.equal(before)


def test_score_is_a_natural_log_probability_by_the_chain_rule():
    lm = tiny(torch.float64)
    memory = lm.model.ingest(torch.randint(0, 256, (1, 40)), lm.model.new_memory(1))
    prompt = list(range(97, 110))
    total = sum(math.exp(score(lm, memory, prompt, [t])) for t in range(lm.config.vocab_size))
    assert total == pytest.approx(1.0, abs=1e-9)  # natural log of a distribution, not log2 or a logit
    a, b = 120, 121
    assert score(lm, memory, prompt, [a, b]) == pytest.approx(
        score(lm, memory, prompt, [a]) + score(lm, memory, prompt + [a], [b]), abs=1e-9)  # summed, not averaged
    assert score(lm, memory, prompt, []) == 0.0
    with pytest.raises(InputError, match="empty prompt"):
        score(lm, memory, [], [a])


def _search(value, n, splits, min_gain=MIN_GAIN, then=None):
    calls, stretches = [], []
    cached = functools.cache(lambda p: calls.append(p) or value(p))

    def stretch(a, b):
        stretches.append((a, b))
        return [(a, cached(b) - cached(a))]

    return rises(cached, 0, n, splits, min_gain, stretch, then=then), stretches, calls


def test_bisection_finds_the_stretch_of_a_monotone_step_in_log_steps():
    k = 637  # f(p) = log p(answer | memory after items [0, p)) jumps when document k is read
    splits = list(range(10, 1000, 10))  # 99 checkpoints
    found, stretches, calls = _search(lambda p: -20.0 if p <= k else -1.0, 1000, splits)
    assert stretches == [(630, 640)] and found == [(630, 19.0)]
    assert len(calls) <= 2 + math.ceil(math.log2(len(splits) + 1)) + 1  # both ends, then one per split


def test_bisection_finds_every_rise_best_first_and_nothing_on_a_flat_or_falling_stream():
    two_steps = lambda p: -30.0 + 10 * (p > 120) + 15 * (p > 801)  # noqa: E731
    found, stretches, _ = _search(two_steps, 1000, list(range(50, 1000, 50)))
    assert stretches == [(800, 850), (100, 150)] and found == [(800, 15.0), (100, 10.0)]  # the larger rise first
    # once something is found, only rises above `then` are followed
    assert _search(two_steps, 1000, list(range(50, 1000, 50)), then=12.0)[1] == [(800, 850)]
    for flat in (lambda p: -3.0, lambda p: -float(p)):
        found, stretches, calls = _search(flat, 1000, list(range(50, 1000, 50)))
        assert (found, stretches, sorted(calls)) == ([], [], [0, 1000])
    # a rise no larger than the threshold is no source
    assert _search(lambda p: -20.0 + MIN_GAIN * (p > 500), 1000, [250, 500, 750])[0] == []


@pytest.fixture(scope="module")
def lm():
    return load_model()


def _ingest(lm, root, k, name="c", n=12, **options):
    folder = needle_folder(root / name, k, n, size=doc_bytes(lm))
    store = Store(root / "s.db")
    ingest(store, lm, name, [str(folder)], IngestOptions(checkpoint_segments=4, **options))
    return store, folder


@pytest.fixture(scope="module")
def dense(lm, tmp_path_factory):
    """The needle in document 7 of 12; a checkpoint after every document (each is ~4.3 segments)."""
    store, folder = _ingest(lm, tmp_path_factory.mktemp("dense"), 7)
    yield store, folder
    store.close()


def _ask(lm, store, answer=KEY, name="c", **kw):
    return attribute(store, lm, name, question_tokens(lm.tokenizer, QUESTION), answer, **kw)


def test_the_needle_document_is_the_top_source(lm, dense):
    store, folder = dense
    assert len([s for s in store.list_snapshots("c") if s.kind == "checkpoint"]) == 11
    a = _ask(lm, store)
    top = a.sources[0]
    assert (top.position, top.path, top.page, top.uri) == (7, "doc-aaah.txt", None, str(folder / "doc-aaah.txt"))
    assert top.gain > MIN_GAIN and a.full - a.knockout > MIN_GAIN and a.found
    # a checkpoint after every document: no replay, only the leave-one-out tests of the documents
    # the search ends at (at most three documents and two scores each)
    assert a.replayed < 12 and a.forward_passes <= 16


def test_an_answer_the_corpus_does_not_hold_has_no_source(lm, dense):
    store, _ = dense
    a = _ask(lm, store, answer="31415")
    assert a.sources == [] and not a.found
    assert a.full - a.knockout <= MIN_GAIN  # no better than from an empty memory: the model's weights


def test_a_thinned_corpus_still_attributes_by_replay_and_never_writes(lm, dense, tmp_path, monkeypatch):
    store, folder = _ingest(lm, tmp_path, 7, n=40, keep_checkpoints=0)  # only the final snapshot is kept
    with store:
        assert [s.kind for s in store.list_snapshots("c")] == ["final"]
        state = (store.get_corpus("c"), store.list_snapshots("c"), store.list_sources("c"))
        changes = store.db.conn.total_changes

        def refuse(self, *a, **kw):
            raise AssertionError("attribution wrote to the store")

        monkeypatch.setattr(StoreBase, "_write", refuse)
        a = _ask(lm, store)
        assert a.checkpoints == 0 and a.replayed >= 39 and a.sources[0].position == 7  # the whole stream, once
        assert a.sources[0].gain == pytest.approx(_ask(lm, dense[0]).sources[0].gain, abs=1e-3)
        assert a.forward_passes <= 20  # a bisection over the replay's memories, not a score per document (40)
        assert store.db.conn.total_changes == changes
        assert (store.get_corpus("c"), store.list_snapshots("c"), store.list_sources("c")) == state


def test_an_incomplete_corpus_attributes_over_what_it_covers(lm, tmp_path, monkeypatch):
    original, saved = StoreClass.save_snapshot, []

    def stop_after_three(self, *args, **kwargs):
        saved.append(original(self, *args, **kwargs))
        if len(saved) == 3:
            raise KeyboardInterrupt
        return saved[-1]

    monkeypatch.setattr(StoreClass, "save_snapshot", stop_after_three)
    with pytest.raises(KeyboardInterrupt):
        _ingest(lm, tmp_path, 1)
    monkeypatch.setattr(StoreClass, "save_snapshot", original)
    with Store(tmp_path / "s.db") as store:
        info, current = store.get_corpus("c"), store.current_snapshot("c")
        assert info.incomplete and current.kind == "checkpoint" and current.position == 3
        a = _ask(lm, store)
        assert [s.position for s in a.sources] == [1] and a.positions == 3


def test_a_snapshot_being_replaced_or_changed_sources_are_refused(lm, tmp_path, monkeypatch):
    store, folder = _ingest(lm, tmp_path, 7, keep_checkpoints=0)
    with store:
        (folder / "doc-aaae.txt").write_text("The grass is green. Changed since the ingest.\n")
        with pytest.raises(AttributionError, match=r"doc-aaae.txt \(stream position 4\) is not what corpus 'c' "
                                                    r"was built from: the sources changed"):
            _ask(lm, store)
        original = StoreClass.save_snapshot

        def ctrl_c(self, *args, **kwargs):
            original(self, *args, **kwargs)
            raise KeyboardInterrupt

        monkeypatch.setattr(StoreClass, "save_snapshot", ctrl_c)
        with pytest.raises(KeyboardInterrupt):
            ingest(store, lm, "c", [str(folder)], IngestOptions(checkpoint_segments=4))
        monkeypatch.setattr(StoreClass, "save_snapshot", original)
        assert store.current_snapshot("c").superseded
        with pytest.raises(AttributionError, match="is being replaced by an ingest that has not finished"):
            _ask(lm, store)
