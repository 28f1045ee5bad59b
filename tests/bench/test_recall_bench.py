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
