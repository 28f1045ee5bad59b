"""Answers' sources on every surface: `docqa ask --sources` (text and --json), `docqa chat
--sources`, `Answer.sources`, ChatDocQA's response_metadata["sources"], and a PDF page. The
shipped default model, which recalls the passkey in its own filler."""

import json
import random
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from docqa.api import Corpus
from docqa.bench.sources import filler_texts, hide
from docqa.cli.main import cli
from docqa.cli.sources import NO_SOURCE

from by_path import load_module
from needle_corpora import KEY, NEEDLE, QUESTION, needle_folder

SOURCE = re.compile(r"source: (\S+) (?:page (\d+) )?\(gain (\d+\.\d) nats\)")


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """Corpus "n": the needle in document 7 of 12; corpus "none": the same filler without it."""
    root = tmp_path_factory.mktemp("sources")
    db = root / "s.db"
    folder = needle_folder(root / "n", 7)
    run("ingest", folder, "--corpus", "n", "--db", db)
    run("ingest", needle_folder(root / "none", None), "--corpus", "none", "--db", db)
    return db, folder


def test_ask_sources_prints_the_answer_then_one_line_per_source(corpora):
    db, folder = corpora
    lines = run("ask", "n", QUESTION, "--sources", "--db", db).stdout.splitlines()
    assert lines[0] == KEY
    uri, page, gain = SOURCE.fullmatch(lines[1]).groups()
    assert uri == str(folder / "doc-aaah.txt") and page is None and float(gain) > 8
    assert all(SOURCE.fullmatch(line) for line in lines[2:])
    assert run("ask", "n", QUESTION, "--db", db).stdout == KEY + "\n"  # not asked for: not looked for


def test_ask_json_gains_sources_and_what_finding_them_cost(corpora):
    db, folder = corpora
    answer = json.loads(run("ask", "n", QUESTION, "--sources", "--json", "--db", db).stdout)
    top = answer["sources"][0]
    assert set(top) == {"uri", "path", "page", "gain", "position"}
    assert (top["uri"], top["path"], top["page"], top["position"]) == (str(folder / "doc-aaah.txt"), "doc-aaah.txt",
                                                                        None, 7)
    cost = answer["attribution"]
    assert cost["full"] - cost["knockout"] > 8 and cost["forward_passes"] >= 3 and cost["positions"] == 12
    plain = json.loads(run("ask", "n", QUESTION, "--json", "--db", db).stdout)
    assert plain["sources"] is None and "attribution" not in plain


def test_an_answer_from_no_document_says_no_source_found(corpora):
    db, _ = corpora
    lines = run("ask", "none", QUESTION, "--sources", "--db", db).stdout.splitlines()
    assert len(lines) == 2 and lines[0] != KEY and lines[1] == NO_SOURCE
    assert json.loads(run("ask", "none", QUESTION, "--sources", "--json", "--db", db).stdout)["sources"] == []


def test_chat_shows_sources_on_request(corpora):
    db, folder = corpora
    lines = run("chat", "n", "-m", QUESTION, "--sources", "--db", db).stdout.splitlines()
    assert SOURCE.fullmatch(lines[1]).group(1) == str(folder / "doc-aaah.txt")
    turns = json.loads(run("chat", "n", "-m", QUESTION, "--sources", "--json", "--db", db).stdout)["turns"]
    assert turns[0]["sources"][0]["path"] == "doc-aaah.txt"
    assert json.loads(run("chat", "n", "-m", QUESTION, "--json", "--db", db).stdout)["turns"][0]["sources"] is None


def test_answer_sources_in_the_python_api(corpora):
    db, _ = corpora
    corpus = Corpus("n", db=db)
    answer = corpus.ask(QUESTION, sources=True)
    assert answer.text == KEY and [s.position for s in answer.sources][:1] == [7]
    assert corpus.ask(QUESTION).sources is None
    assert corpus.attribute("31415", QUESTION).sources == []  # a key the corpus does not hold


def test_chat_docqa_puts_sources_in_response_metadata(corpora):
    pytest.importorskip("langchain_core")
    from docqa.integrations.langchain import ChatDocQA

    db, _ = corpora
    message = ChatDocQA(corpus="n", db=str(db), sources=True).invoke(QUESTION)
    assert message.content == KEY and message.response_metadata["sources"][0]["path"] == "doc-aaah.txt"
    last = list(ChatDocQA(corpus="n", db=str(db), sources=True).stream(QUESTION))[-1]
    assert last.response_metadata["sources"][0]["position"] == 7
    assert "sources" not in ChatDocQA(corpus="n", db=str(db)).invoke(QUESTION).response_metadata


def _text_pdf():
    path = Path(__file__).parents[1] / "connectors" / "connector_pdfs.py"
    return load_module("connector_pdfs_for_sources", path).text_pdf


def test_a_pdf_source_names_its_page(tmp_path):
    pages = filler_texts(256, random.Random(3), 5)
    pages[2] = hide(pages[2], NEEDLE)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "manual.pdf").write_bytes(_text_pdf()(pages))
    run("ingest", tmp_path / "src", "--corpus", "p", "--db", tmp_path / "s.db")
    answer = json.loads(run("ask", "p", QUESTION, "--sources", "--json", "--db", tmp_path / "s.db").stdout)
    top = answer["sources"][0]
    assert (top["path"], top["page"], top["uri"]) == ("manual.pdf", 3, f"{tmp_path / 'src' / 'manual.pdf'}#page=3")
    line = run("ask", "p", QUESTION, "--sources", "--db", tmp_path / "s.db").stdout.splitlines()[1]
    assert SOURCE.fullmatch(line).groups()[:2] == (str(tmp_path / "src" / "manual.pdf"), "3")
