from importlib.metadata import EntryPoint

import pytest

from connectors import registry
from connectors.errors import SourceError, UnknownConnectorError
from connectors.pdf import PdfConnector
from connectors.repo import RepoConnector
from connectors.text import TextConnector


def test_builtin_connectors_register_through_entry_points():
    assert {"repo", "pdf", "text"} <= set(registry.names())
    assert isinstance(registry.get("repo"), RepoConnector)
    assert isinstance(registry.get("pdf"), registry.Connector)


def test_for_path_picks_by_what_the_path_is(tmp_path):
    (tmp_path / "a.PDF").write_bytes(b"%PDF")
    (tmp_path / "notes.md").write_text("x")
    assert isinstance(registry.for_path(str(tmp_path)), RepoConnector)
    assert isinstance(registry.for_path(str(tmp_path / "a.PDF")), PdfConnector)
    assert isinstance(registry.for_path(str(tmp_path / "notes.md")), TextConnector)
    assert isinstance(registry.for_path("-"), TextConnector)


def test_for_path_name_overrides_the_choice(tmp_path):
    (tmp_path / "scan.pdf").write_bytes(b"%PDF")
    assert isinstance(registry.for_path(str(tmp_path / "scan.pdf"), "text"), TextConnector)


def test_missing_path_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="nope: no such file or directory"):
        registry.for_path(str(tmp_path / "nope"))


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(UnknownConnectorError,
                       match=r"no connector named 'notion'; available: .*pdf, repo, text"):
        registry.get("notion")


class _Notes:
    name = "notes"

    def iter_documents(self, source, **options):
        return iter(())


def test_third_party_entry_points_are_found(monkeypatch):
    fake = EntryPoint("notes", f"{__name__}:_Notes", registry.GROUP)
    real = registry.entry_points
    monkeypatch.setattr(registry, "entry_points",
                        lambda group: [*real(group=group), fake])
    assert "notes" in registry.names()
    assert isinstance(registry.get("notes"), _Notes)
