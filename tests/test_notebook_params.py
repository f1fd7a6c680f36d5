"""Notebook parameters: one cell tagged "parameters" per notebook, and injected values change what it computes."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.py"))


def _parameter_cells(notebook: Any) -> list[Any]:
    return [cell for cell in notebook.cells if "parameters" in cell.get("metadata", {}).get("tags", [])]


def _inject(notebook: Any, values: dict[str, object]) -> Any:
    """What papermill does: a cell tagged "injected-parameters" right after the "parameters" cell."""
    (cell,) = _parameter_cells(notebook)
    source = "\n".join(f"{name} = {value!r}" for name, value in values.items())
    injected = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(notebook.cells.index(cell) + 1, injected)
    return notebook


def _outputs(path: Path, values: dict[str, object]) -> list[str]:
    """The text every code cell printed, after running the notebook with ``values`` injected."""
    notebook = _inject(jupytext.read(path), values)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    return [
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_has_one_parameters_cell_of_plain_assignments(path: Path) -> None:
    """Exactly one cell is tagged "parameters", and it only assigns literals, so a runner can override each."""
    cells = _parameter_cells(jupytext.read(path))
    assert len(cells) == 1, f"{path.name}: {len(cells)} cells tagged parameters"
    tree = ast.parse(cells[0].source)
    assert tree.body, f"{path.name}: the parameters cell is empty"
    for statement in tree.body:
        assert isinstance(statement, ast.Assign), ast.unparse(statement)
        ast.literal_eval(statement.value)  # a literal, which papermill's injected cell can replace


@pytest.mark.slow
def test_an_injected_parameter_changes_the_notebooks_result() -> None:
    """02_rollout with another SEED (and a small N) prints other figures; the same SEED prints the same."""
    path = next(p for p in NOTEBOOKS if p.stem == "02_rollout")
    first = _outputs(path, {"SEED": 1, "N": 2000})
    again = _outputs(path, {"SEED": 1, "N": 2000})
    other = _outputs(path, {"SEED": 2, "N": 2000})
    assert first == again
    assert first != other
