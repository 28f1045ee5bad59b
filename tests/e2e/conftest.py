import pytest
import torch

from docqa.model.config import ModelConfig
from docqa.model.io import save_model
from docqa.model.tokenizer import ByteTokenizer
from docqa.model.transformer import InfiniTransformer


def tiny_model(path, seed=0):
    torch.manual_seed(seed)
    model = InfiniTransformer(ModelConfig.from_name("test", segment_len=16))
    with torch.no_grad():  # untrained: keep answers from ending at once on a special token
        model.emb.weight[256:] = 0
    save_model(model, ByteTokenizer(), path)
    return str(path)


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def other_model_dir(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("other"), seed=1)


@pytest.fixture
def make_folder():
    return _make_folder


def _make_folder(root, n=12):
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (root / f"file{i:02d}.txt").write_text(f"Document {i}. " + "The grass is green. " * (5 + i) + f"Code {i * 7}.\n")
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (root / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    return root
