"""The two packages' layering, checked from the source: one idea per module, no knots.

- ``helpers/`` (what learners read) never imports ``course_tools/`` (the course's machinery, which
  may use ``helpers``); no import cycle inside ``helpers/`` (every import counts);
- only ``helpers/_compat.py`` touches zarr's, fsspec's and s3fs's internals, and only
  ``course_tools/_compat.py`` moto's;
- every module has a docstring and every public one declares ``__all__``;
- the learner API does not load the course's machinery, and no lesson imports the benchmarks.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from course_tools import REPO_ROOT

PACKAGE = REPO_ROOT / "helpers"
MODULES = sorted(PACKAGE.rglob("*.py"))
TOOLS = sorted((REPO_ROOT / "course_tools").rglob("*.py"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


NAMES = {module_name(p): p for p in MODULES}


def imported_modules(path: Path) -> set[str]:
    """The helpers modules that ``path`` imports, anywhere in the file (outside TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    skip: set[int] = set()
    for node in ast.walk(tree):  # imports for type checkers only are not dependencies at run time
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found |= {t for t in targets if t in NAMES and t != this}
    return found


def test_no_import_cycle_inside_helpers() -> None:
    graph = {name: imported_modules(path) for name, path in NAMES.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*stack[stack.index(target) :], target]))
            elif target not in state:
                visit(target, [*stack, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_helpers_never_imports_the_course_tools() -> None:
    offenders = []
    for path in MODULES:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name.split(".")[0] == "course_tools" for name in names):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
        if re.search(r">>> .*course_tools", path.read_text()):  # nor do its examples
            offenders.append(f"{path.relative_to(REPO_ROOT)}: a docstring example")
    assert not offenders, "helpers/ imports course_tools/ at:\n" + "\n".join(offenders)


INTERNALS = re.compile(
    r"zarr\.core|zarr\.storage\.(StorePath|WrapperStore)|from zarr\.storage import .*(StorePath|Wrapper)"
    r"|\bAsyncArray\(|\bGroupMetadata\(|_s3creator|(?<!self)\._session\b|\._cache\b"
    r"|moto\.s3\.models|moto\.core|\bs3_backends\b|_value_buffer"
)


def test_only_compat_touches_library_internals() -> None:
    offenders = []
    for path in MODULES + TOOLS:
        if path.name == "_compat.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if INTERNALS.search(code) and not code.strip().startswith(('"', "'")):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert not offenders, "library internals outside the _compat modules:\n" + "\n".join(offenders)


@pytest.mark.parametrize("path", MODULES + TOOLS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_module_documents_and_declares_its_api(path: Path) -> None:
    tree = ast.parse(path.read_text())
    assert ast.get_docstring(tree), f"{path.name}: no module docstring"
    public = not path.name.startswith("_") or path.name == "__init__.py"
    if public:
        exported = [
            node
            for node in tree.body
            if (
                isinstance(node, ast.Assign)
                and any(
                    getattr(n, "id", None) == "__all__" for t in node.targets for n in ast.walk(t)
                )
            )
            or (isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "__all__")
        ]
        assert exported, f"{path.relative_to(REPO_ROOT)}: public module without __all__"


def loaded_after(statement: str) -> list[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    ).stdout
    return json.loads(out.splitlines()[-1])


@pytest.mark.parametrize(
    "statement",
    [
        "import helpers",
        "from helpers import open_image, model_time_s",
        "import helpers.segment",
        "import helpers.browse",
        "import helpers.fetch",
    ],
)
def test_learner_api_does_not_load_the_course_tools(statement: str) -> None:
    loaded = loaded_after(statement)
    assert not [m for m in loaded if m.startswith("course_tools")], statement


def test_lessons_never_import_the_benchmarks() -> None:
    for notebook in sorted((REPO_ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        assert not re.search(r"course_tools\.bench|from course_tools import bench", code), (
            notebook.name
        )


# --- a library a learner can read in an afternoon ----------------------------------------------------
MAX_MODULES = 15
MAX_LINES = 5_000
MAX_FUNCTION_CODE_LINES = 40


def code_lines(node: ast.AST, source: list[str]) -> int:
    """Lines of a function that hold code: its docstring, blank lines and comments left out."""
    body = list(getattr(node, "body", []))
    first = body[0] if body else None
    docstring = (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    )
    skip = set(range(first.lineno, first.end_lineno + 1)) if docstring and first else set()
    lines = range(node.lineno, (node.end_lineno or node.lineno) + 1)
    return sum(
        1
        for n in lines
        if n not in skip and source[n - 1].strip() and not source[n - 1].strip().startswith("#")
    )


def test_helpers_is_a_small_flat_library() -> None:
    lines = {path.name: len(path.read_text().splitlines()) for path in MODULES}
    assert all(path.parent == PACKAGE for path in MODULES), "helpers/ is flat: no subpackages"
    assert len(MODULES) <= MAX_MODULES, sorted(lines)
    assert sum(lines.values()) <= MAX_LINES, f"{sum(lines.values())} lines: {lines}"


def test_no_learner_function_is_longer_than_a_screen() -> None:
    long = []
    for path in MODULES:
        source = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(source))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if (count := code_lines(node, source)) > MAX_FUNCTION_CODE_LINES:
                    long.append(f"{path.name}:{node.lineno} {node.name} ({count} lines)")
    assert not long, long


def test_import_helpers_loads_neither_aiohttp_nor_dask() -> None:
    loaded = loaded_after("import helpers; helpers.__all__")
    heavy = [m for m in loaded if m.split(".")[0] in ("aiohttp", "dask", "distributed")]
    assert not heavy, heavy
