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


@pytest.fixture
def essay_root(tmp_path):
    """A folder of one Python file whose code and docstring (the filler's code and prose pools) name
    rivers: text that is not the synthetic filler, and says so by its words."""
    (tmp_path / "essay.py").write_text('"""Rivers and mountains of the northern coast, their towns, their bridges '
                                       'and the roads between them."""\nx = 1\n' * 40)
    return tmp_path
