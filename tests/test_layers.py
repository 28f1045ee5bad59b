"""The arrows of ARCHITECTURE.md, read from the import statements of the source files."""

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]


def imports(path: Path) -> list[str]:
    """The modules a file imports from (at any depth: lazy imports count), as dotted names."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
    return found


def files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_integrations_use_the_public_api_only():
    public = {"docqa", "docqa.errors"}
    for path in files("docqa/integrations"):
        inner = [m for m in imports(path) if m.split(".")[0] == "docqa" and m not in public
                 and not m.startswith("docqa.integrations")]
        assert inner == [], f"{path.relative_to(ROOT)} imports docqa internals: {inner}"
