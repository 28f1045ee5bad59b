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


def test_benchmarks_do_not_reach_into_private_module_state():
    """A benchmark reads what docqa and the connectors offer; it neither touches their private
    names (`api._MEMORIES`) nor assigns to their module attributes (`pdf.REOPEN_EVERY = ...`)."""
    for path in files("benchmarks"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        ours = set()  # names bound to docqa's or the connectors' modules and objects
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                ours |= {(a.asname or a.name).split(".")[0] for a in node.names
                         if a.name.split(".")[0] in ("docqa", "connectors")}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ("docqa", "connectors"):
                ours |= {a.asname or a.name for a in node.names}
        where = path.relative_to(ROOT)
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ours:
                assert not node.attr.startswith("_"), f"{where}:{node.lineno} reads {node.value.id}.{node.attr}"
                assert not isinstance(node.ctx, ast.Store), f"{where}:{node.lineno} sets {node.value.id}.{node.attr}"


def test_the_benches_build_on_training_and_training_never_on_the_benches():
    """The benches measure models on the training tasks (bench -> train); training evaluates with
    its own measurement (train.evaluate), and the recipe, which does both, sits above them."""
    for path in files("docqa/train"):
        upward = [m for m in imports(path) if m.startswith(("docqa.bench", "docqa.recipe", "docqa.cli"))]
        assert upward == [], f"{path.relative_to(ROOT)} imports {upward}"
