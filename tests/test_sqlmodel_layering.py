"""The SQL analysis is layered (parse → graph → facts → sites → contracts → rules): no import circle."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

SRC = Path(__file__).resolve().parents[1] / "src" / "bcastsim"


def _imports(package: Path, prefix: str) -> nx.DiGraph:
    """Module → module edges for every import of ``prefix``.* in ``package``, function-level ones included."""
    graph = nx.DiGraph()
    for path in sorted(package.glob("*.py")):
        graph.add_node(path.stem)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(prefix + "."):
                graph.add_edge(path.stem, node.module.removeprefix(prefix + ".").split(".")[0])
    return graph


def test_sqlmodel_has_no_import_circle() -> None:
    """No module of sqlmodel/ imports, even lazily, a module that imports it back."""
    graph = _imports(SRC / "sqlmodel", "bcastsim.sqlmodel")
    assert [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1] == []


def test_control_flow_graph_sits_below_the_sites() -> None:
    """The graph module imports no other module of the package; the type names are a leaf too."""
    graph = _imports(SRC / "sqlmodel", "bcastsim.sqlmodel")
    assert set(graph.successors("_cfg")) == set()
    assert set(graph.successors("_typenames")) == set()


def test_review_reads_sqlmodel_through_its_public_surface() -> None:
    """review/ imports bcastsim.sqlmodel, never one of its private modules."""
    for path in sorted((SRC / "review").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("bcastsim.sqlmodel._"), (path.name, node.module)
