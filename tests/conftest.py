import pytest
import torch

# CI has two cores, and training often runs in the background on the same machine.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolate_user_dirs(tmp_path_factory, monkeypatch):
    """No test touches the real home directory or the user's store."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("DOCQA_DB", str(home / "docqa.db"))
    monkeypatch.setenv("DOCQA_DEBUG", "internal")  # bugs keep their tracebacks; user errors stay one line


@pytest.fixture
def contrasts(monkeypatch) -> list[float]:
    """The `contrast` of every answer docqa.answer decodes from here on, in order."""
    import docqa.answer

    seen: list[float] = []
    real = docqa.answer.generate

    def spy(*args, contrast=0.0, **kwargs):
        seen.append(contrast)
        return real(*args, contrast=contrast, **kwargs)

    monkeypatch.setattr(docqa.answer, "generate", spy)
    return seen
