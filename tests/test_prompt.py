"""One layout of what the model reads (docqa.prompt): training, answering and ingest share it."""

import inspect
import random
from types import SimpleNamespace

import pytest

import docqa.prompt
from docqa.errors import InputError
from docqa.model.tokenizer import ByteTokenizer
from docqa.prompt import DEFAULT_MAX_TOKENS, document_tokens, load_template
from docqa.train.tasks import CodeFiles, Filler, sample_task


@pytest.fixture
def tok():
    return ByteTokenizer()


@pytest.fixture
def lm_stub(tok, monkeypatch):
    """A Corpus whose model is only a tokenizer and a segment length: enough to build prompts."""
    from docqa.api import Corpus

    lm = SimpleNamespace(tokenizer=tok, config=SimpleNamespace(segment_len=8))
    monkeypatch.setattr(Corpus, "lm", property(lambda self: lm))
    return lm


@pytest.mark.parametrize("task", ["passkey", "needle", "facts", "track"])
def test_an_edited_ask_template_reaches_training_and_answering_alike(tok, lm_stub, monkeypatch, task):
    from docqa.api import Corpus

    edited = "Question: {question}\nAnswer:<|answer|>"
    shipped = load_template

    monkeypatch.setattr(docqa.prompt, "load_template", lambda name: edited if name == "ask" else shipped(name))
    doc = sample_task(tok, random.Random(3), Filler(tok), 512, 64, task)
    prompt = tok.decode(doc.tokens[doc.question_start:doc.answer_start])
    assert prompt.startswith("Question: ") and prompt.endswith("\nAnswer:<|answer|>")
    question = prompt[len("Question: "):-len("\nAnswer:<|answer|>")]
    assert doc.tokens[doc.question_start:doc.answer_start] == Corpus("c").prompt(question)


def test_training_answers_end_as_answering_expects(tok):
    doc = sample_task(tok, random.Random(5), Filler(tok), 512, 64, "passkey")
    answer = doc.tokens[doc.answer_start:]
    assert answer == tok.encode(doc.answer) + [tok.special_tokens["<|end|>"]]
    assert [t for t, is_target in zip(doc.tokens, doc.target) if is_target] == answer


def test_training_code_documents_are_the_streams_ingest_reads(tok, tmp_path):
    from docqa.ingest import documents

    (tmp_path / "shapes.py").write_text('"""Shapes."""\n\nSIDES = 4\n\n\ndef area(width, height):\n'
                                        '    return width * height\n')
    code = CodeFiles(tok, root=tmp_path, max_tokens=10_000)
    [doc] = list(documents([str(tmp_path)]))
    assert [ids for ids, _ in code.files] == [document_tokens(tok, doc)]


def test_one_default_answer_length_everywhere():
    from docqa.answer import AnswerStream
    from docqa.api import Corpus
    from docqa.chat import Chat
    from docqa.cli.main import cli

    assert AnswerStream.__dataclass_fields__["max_tokens"].default == DEFAULT_MAX_TOKENS
    assert inspect.signature(Corpus.stream).parameters["max_tokens"].default == DEFAULT_MAX_TOKENS
    assert inspect.signature(Chat.send).parameters["max_tokens"].default == DEFAULT_MAX_TOKENS
    for command in ("ask", "chat"):
        [option] = [p for p in cli.commands[command].params if p.name == "max_tokens"]
        assert option.default == DEFAULT_MAX_TOKENS
    pytest.importorskip("langchain_core")
    from docqa.integrations.langchain import ChatDocQA

    assert ChatDocQA.model_fields["max_tokens"].default == DEFAULT_MAX_TOKENS


def test_one_prompt_limit_for_answering_and_for_trimming_a_chat(tok, lm_stub, monkeypatch):
    from docqa.answer import AnswerStream
    from docqa.api import Corpus

    monkeypatch.setattr(docqa.prompt, "MAX_PROMPT_SEGMENTS", 3)  # 3 segments of 8 tokens
    with pytest.raises(InputError, match=r"the prompt is 25 tokens; this model takes at most 24 \(3 segments of 8\)"):
        AnswerStream(lm_stub, None, [65] * 25)
    AnswerStream(lm_stub, None, [65] * 24)
    history = [("q1", "a1"), ("q2", "a2"), ("q3", "a3")]
    fitted = Corpus("c").chat_prompt("last?", history, fit=True)
    assert len(fitted) <= 24 < len(Corpus("c").chat_prompt("last?", history))
    assert tok.decode(fitted).endswith("q3<|answer|>a3<|end|><|question|>last?<|answer|>")
