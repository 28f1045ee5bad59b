import pytest
import torch

from docqa.store import Store

from store_fixtures import FP_A, FP_B, random_memory  # noqa: F401


@pytest.fixture
def make_memory():
    return random_memory


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "nested" / "dir" / "docqa.db"


@pytest.fixture
def store(db_path):
    with Store(db_path) as s:
        yield s


@pytest.fixture
def corpus(store):
    store.create_corpus("notes", FP_A, "tiny-a")
    return "notes"
