"""Finding connectors: by name through entry points, or by looking at a path.

Connectors are registered under the entry-point group "docqa.connectors", docqa's own
included (see pyproject.toml), so a third-party package adds one the same way:

    [project.entry-points."docqa.connectors"]
    notion = "docqa_notion:NotionConnector"

The entry point names a class (instantiated without arguments) or an object satisfying
`Connector`; the entry-point name is the connector's name. If two packages register one
name, the first found wins.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import EntryPoint, entry_points
from typing import Protocol, runtime_checkable

from connectors.document import Document, Skipped
from connectors.errors import UnknownConnectorError
from connectors.paths import existing

GROUP = "docqa.connectors"


@runtime_checkable
class Connector(Protocol):
    """Turns a source into a lazy stream of documents and skip records.

    `iter_documents` checks the source and the options when called (raising SourceError for
    a missing or unreadable source, or a bad option) and returns an iterator that does the
    reading as it is consumed, in a stable order.

    Optionally, `size_hint(source, **options)` estimates the bytes the stream will read without
    reading them (from a listing), or returns None; ingest progress bases its ETA on it.
    """

    name: str

    def iter_documents(self, source: str, **options: object) -> Iterator[Document | Skipped]: ...


def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUP):
        found.setdefault(ep.name, ep)
    return found


def names() -> list[str]:
    """The registered connector names, sorted."""
    return sorted(_entry_points())


def get(name: str) -> Connector:
    """The connector registered as `name`, or UnknownConnectorError naming the others."""
    ep = _entry_points().get(name)
    if ep is None:
        raise UnknownConnectorError(
            f"no connector named {name!r}; available: {', '.join(names()) or 'none'}")
    obj = ep.load()
    return obj() if isinstance(obj, type) else obj


def for_path(path: str, name: str | None = None) -> Connector:
    """The connector for `path`: `name` if given, else by what the path is.

    "-" (standard input) -> text; a folder -> repo; a ".pdf" file -> pdf; any other file ->
    text. A path that does not exist raises SourceError.
    """
    if name is not None:
        return get(name)
    if path == "-":
        return get("text")
    p = existing(path)
    if p.is_dir():
        return get("repo")
    return get("pdf") if p.suffix.lower() == ".pdf" else get("text")
