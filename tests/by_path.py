"""Modules that are files, not parts of a package (benchmarks/ scripts, the tests' connector
helpers), imported by their path."""

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def benchmark(name: str) -> ModuleType:
    """benchmarks/NAME.py"""
    return load_module(name, ROOT / "benchmarks" / f"{name}.py")
