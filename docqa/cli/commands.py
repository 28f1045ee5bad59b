"""Imports every command module so that each registers itself on the `cli` group."""
from docqa.cli import train  # noqa: F401
from docqa.cli import corpora  # noqa: F401
from docqa.cli import ask, ingest  # noqa: F401
from docqa.cli import convert  # noqa: F401
from docqa.cli import check  # noqa: F401
from docqa.cli import bench_sources  # noqa: F401
