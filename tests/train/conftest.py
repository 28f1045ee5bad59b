import pytest


@pytest.fixture(scope="module")
def task_tokenizer(tmp_path_factory):
    """A tokenizer.json trained on the tasks' phrasings: every training task encodes with it."""
    from docqa.model.tokenizer import BPETokenizer
    from docqa.train import phrasings as ph

    text = " ".join(ph.STATEMENTS + ph.QUESTIONS + ph.SUBJECTS + ph.NAMES + ph.MOVES) + " The grass is green. "
    path = tmp_path_factory.mktemp("tok") / "tok.json"
    BPETokenizer.train([text * 3], vocab_size=500).save(path)
    return path
