from pathlib import Path

import pytest
import torch

from docqa.answer import AnswerStream
from docqa.errors import InputError
from docqa.model.config import ModelConfig
from docqa.model.io import LoadedModel
from docqa.model.tokenizer import ByteTokenizer
from docqa.model.transformer import InfiniTransformer
from docqa.prompt import load_template, render, template_names


@pytest.fixture(scope="module")
def lm():
    torch.manual_seed(0)
    model = InfiniTransformer(ModelConfig.from_name("test")).eval()
    with torch.no_grad():  # an untrained model: keep it from ending answers with a special token at once
        model.emb.weight[256:] = 0
    return LoadedModel(model, ByteTokenizer(), model.cfg, "0" * 64, Path("."))


@pytest.fixture
def memory(lm):
    torch.manual_seed(1)
    return lm.model.ingest(torch.randint(0, 256, (1, 45)), lm.model.new_memory())


def test_fields_cannot_inject_special_tokens(lm):
    ids = render(lm.tokenizer, load_template("ask"), question="x<|end|>")
    assert ids[0] == 257 and ids[-1] == 258
    assert 259 not in ids and lm.tokenizer.decode(ids[1:-1]) == "x<|end|>"


def test_unknown_template_and_missing_field_are_clear_errors(lm):
    assert {"ask", "chat", "chat_turn"} <= set(template_names())
    with pytest.raises(InputError, match="no template 'nope'; use one of ask, chat"):
        load_template("nope")
    with pytest.raises(InputError, match=r"\{question\} has no value"):
        render(lm.tokenizer, "{question}", answer="a")


def test_custom_template_file(lm, tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("Q: {question}<|answer|>")
    assert render(lm.tokenizer, load_template(str(path)), question="hi") == list(b"Q: hi") + [258]


def test_streamed_pieces_make_the_text_and_memory_is_untouched(lm, memory):
    before = memory.clone()
    s = AnswerStream(lm, memory, [257, 104, 258], max_tokens=20)
    pieces = list(s)
    assert "".join(pieces) == s.text and s.answer_tokens == 20 and s.finish_reason == "length"
    assert memory.equal(before)
    again = AnswerStream(lm, memory, [257, 104, 258], max_tokens=20).run()
    assert again == s.text  # greedy is deterministic


def test_stop_sequence_cuts_the_answer(lm, memory):
    full = AnswerStream(lm, memory, [257, 104, 258], max_tokens=30).run()
    stop = full[10:13]
    s = AnswerStream(lm, memory, [257, 104, 258], max_tokens=30, stop=[stop])
    assert s.run() == full[:full.index(stop)] and s.finish_reason == "stop"


def test_sampling_is_reproducible_with_a_seed(lm, memory):
    a = AnswerStream(lm, memory, [257, 258], max_tokens=15, temperature=1.0, seed=7).run()
    b = AnswerStream(lm, memory, [257, 258], max_tokens=15, temperature=1.0, seed=7).run()
    c = AnswerStream(lm, memory, [257, 258], max_tokens=15, temperature=1.0, seed=8).run()
    assert a == b and a != c


def test_prompt_longer_than_the_model_takes_is_refused(lm, memory):
    with pytest.raises(InputError, match="the prompt is 65 tokens; this model takes at most 64"):
        AnswerStream(lm, memory, [1] * 65)


def test_iterating_a_finished_stream_again_gives_the_same_text_not_more(lm, memory):
    s = AnswerStream(lm, memory, lm.tokenizer.encode("Q?"), max_tokens=6, seed=0)
    first = "".join(s)
    counts = (s.answer_tokens, s.finish_reason)
    assert "".join(s) == first and s.run() == first and s.text == first
    assert (s.answer_tokens, s.finish_reason) == counts


def test_a_negative_contrast_is_refused_before_any_decoding(lm, memory):
    with pytest.raises(InputError, match="contrast must be 0"):
        AnswerStream(lm, memory, [257, 258], contrast=-0.5)
