"""Later chat turns and the question's segment (docqa.model.base.question_memory).

Each turn is answered from the conversation's stored snapshot, never from where the previous
answer left off; its prompt (the earlier turns, then the new question) is placed as one piece,
so the earlier turns share the question's segment, as training's multi-question documents put
further questions after the first answer (docqa.train.tasks.ask_more). A history too long for
one segment with the answer's reserve is not aligned: it runs across the boundary as it comes."""

import json

import torch
from click.testing import CliRunner

from docqa.chat import Chat
from docqa.cli.main import cli
from docqa.model import infini
from docqa.model.base import ANSWER_RESERVE
from docqa.model.config import ModelConfig
from docqa.model.io import fingerprint, save_model
from docqa.model.tokenizer import ByteTokenizer
from docqa.model.transformer import InfiniTransformer
from docqa.store import Store

S = 128


def test_each_turn_places_history_and_question_in_the_question_segment(tmp_path, make_folder, monkeypatch):
    torch.manual_seed(0)
    model = InfiniTransformer(ModelConfig.from_name("test", segment_len=S))
    with torch.no_grad():  # untrained: keep answers from ending at once on a special token
        model.emb.weight[256:] = 0
    save_model(model, ByteTokenizer(), tmp_path / "model")
    db, model_dir = tmp_path / "s.db", tmp_path / "model"
    r = CliRunner().invoke(cli, ["ingest", str(make_folder(tmp_path / "src", 3)), "--corpus", "c", "--db", str(db),
                                 "--model", str(model_dir), "--json"], catch_exceptions=False)
    assert r.exit_code == 0 and json.loads(r.output)
    with Store(db) as s:
        stored = s.load_snapshot("c", model_fingerprint=fingerprint(model_dir))
    P, n_layer = stored.pending.shape[1], model.cfg.n_layer
    assert 0 < P < S

    written = []
    real = infini.memory_commit
    monkeypatch.setattr(infini, "memory_commit", lambda cfg, k, *a: written.append(k.shape[-2]) or real(cfg, k, *a))

    chat = Chat.open("c", db=db, model=model_dir)
    stream = chat.send("hi?", max_tokens=4)
    stream.run()
    chat.finish(stream)
    # turn 2: a question whose prompt (turn 1, then the question) and the reserve fill one segment
    probe = chat.corpus.chat_prompt("x", chat.history(), fit=True)
    q2 = "x" * (1 + S - ANSWER_RESERVE - len(probe))
    prompt2 = chat.corpus.chat_prompt(q2, chat.history(), fit=True)
    assert len(prompt2) == S - ANSWER_RESERVE and ByteTokenizer().decode(prompt2).startswith("<|question|>hi?")
    written.clear()
    chat.send(q2, max_tokens=ANSWER_RESERVE).run()
    # the whole stored tail went to memory as a short segment; turn 1 and the question opened the next
    assert written == [P] * n_layer

    # a history too long for one segment: nothing aligned, full segments only, as before
    written.clear()
    q3 = "y" * (S - ANSWER_RESERVE - 4)
    chat.send(q3, max_tokens=1).run()
    assert written and set(written) == {S}
    with Store(db) as s:  # the stored snapshot never changes
        assert s.load_snapshot("c", model_fingerprint=fingerprint(model_dir)).equal(stored)
