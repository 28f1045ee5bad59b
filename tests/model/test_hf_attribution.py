"""Attribution over the other model family: a converted Hugging Face checkpoint scores answers
as the decoder reads them, and `--sources` runs end to end on it."""

import json

import pytest
import torch
from click.testing import CliRunner

from docqa.attribution import score
from docqa.cli.main import cli
from docqa.model.base import question_memory
from docqa.model.io import load_model


def test_score_equals_the_cached_decoders_log_probs_on_a_converted_model(converted):
    lm = load_model(converted("qwen2", 8))
    tok = lm.tokenizer
    memory = lm.model.ingest(torch.tensor([tok.encode("The river winds through the valley past the mills.")]),
                             lm.model.new_memory(1))
    prompt, answer = tok.encode("Where does the river wind?"), tok.encode(" through the valley")
    dec, total = lm.model.decoder(question_memory(lm.model, memory, len(prompt))), 0.0  # as generate runs it
    logits = dec.feed(torch.tensor([prompt]))
    for t in answer:
        total += float(torch.log_softmax(logits[0].double(), -1)[t])
        logits = dec.feed(torch.tensor([[t]]))
    assert score(lm, memory, prompt, answer) == pytest.approx(total, abs=1e-4)


def test_ask_sources_runs_on_a_converted_model(converted, tmp_path):
    model = converted("llama", 8)
    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):
        (src / f"note{i}.txt").write_text(f"Note {i}. The grass is green and the sky is blue.\n")
    db = tmp_path / "s.db"
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(src), "--corpus", "c", "--db", str(db), "--model", str(model),
                               "--checkpoint-segments", "2"], catch_exceptions=False).exit_code == 0
    out = runner.invoke(cli, ["ask", "c", "What is the sky?", "--db", str(db), "--model", str(model), "--json",
                              "--sources", "--max-tokens", "4"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    answer = json.loads(out.stdout)
    assert isinstance(answer["sources"], list) and answer["attribution"]["positions"] == 4
    assert answer["attribution"]["checkpoints"] >= 1  # the search had checkpoints to split at
