import json

import torch
from click.testing import CliRunner

from docqa.cli.main import cli
from docqa.model.config import ModelConfig
from docqa.model.io import save_model
from docqa.model.tokenizer import ByteTokenizer
from docqa.model.transformer import InfiniTransformer


def test_bench_recall_json_and_plot(tmp_path):
    torch.manual_seed(0)
    save_model(InfiniTransformer(ModelConfig.from_name("test", segment_len=64)), ByteTokenizer(), tmp_path / "m")
    out = CliRunner().invoke(cli, ["bench", "recall", "--model", str(tmp_path / "m"), "--lengths", "256",
                                   "--depths", "start,end", "--n", "2", "--facts", "1,2", "--facts-length", "512",
                                   "--seed", "5", "--json", "--plot", str(tmp_path / "r.png")], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert result["seed"] == 5
    cells = result["cells"]
    assert [(c["task"], c["depth"]) for c in cells] == [("passkey", "start"), ("passkey", "end"),
                                                       ("facts=1", "spread"), ("facts=2", "spread")]
    assert all(0 <= c[k] <= 1 for c in cells for k in ("exact", "digits", "knockout_exact"))
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert result["contrast"] == 0.0
    out = CliRunner().invoke(cli, ["bench", "recall", "--model", str(tmp_path / "m"), "--lengths", "256",
                                   "--depths", "end", "--n", "2", "--facts", "", "--contrast", "1.5", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["contrast"] == 1.5
    out = CliRunner().invoke(cli, ["bench", "recall", "--model", str(tmp_path / "m"), "--contrast", "-1"])
    assert out.exit_code != 0 and "contrast" in out.output


def test_synthetic_cells_list_each_wrong_answer_with_what_came_back(tmp_path):
    """A random model misses most trials: each miss names its trial, the pass key and the answer
    given, one per trial that scored 0, none for the ones right (as the haystack cells do)."""
    from docqa.model.io import load_model
    from docqa.train.evaluate import run_cell

    torch.manual_seed(0)
    save_model(InfiniTransformer(ModelConfig.from_name("test", segment_len=64)), ByteTokenizer(), tmp_path / "m")
    lm = load_model(tmp_path / "m")
    r = run_cell(lm, "passkey", 256, 0.5, n=5, seed=3, batch=2)
    assert len(r["misses"]) == round(5 * (1 - r["exact"])) > 0
    assert [m["trial"] for m in r["misses"]] == sorted({m["trial"] for m in r["misses"]})
    for m in r["misses"]:
        assert m["answer"].isdigit() and m["got"] != m["answer"]
    again = run_cell(lm, "passkey", 256, 0.5, n=5, seed=3, batch=5)  # batching changes nothing
    assert again["misses"] == r["misses"]
