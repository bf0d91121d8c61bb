"""The package layering of docs/architecture.md holds (issue 11, "Layout").

Two independent checks of the same rule:

* ``lint-imports`` (import-linter, the contracts in ``[tool.importlinter]`` of pyproject.toml):
  the layers, no cycle among the modules of any package, no Dagster under ``yaml2dag.format``;
* a scan of every ``import`` statement of ``yaml2dag/`` with :mod:`ast` — at module level, inside
  functions and under ``TYPE_CHECKING`` alike — finding strongly connected components among the
  modules and among the top-level packages: there must be none.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "yaml2dag"


def test_lint_imports_keeps_every_contract():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    assert lint_imports.is_file(), f"{lint_imports} is missing: pip install -e '.[dev]' (import-linter)"
    done = subprocess.run([str(lint_imports), "--no-cache"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout, done.stdout[-4000:]
    for contract in ("layers", "acyclic_siblings", "forbidden"):
        assert f'type = "{contract}"' in (REPO / "pyproject.toml").read_text(), contract


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imported(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """Every dotted name an import statement may refer to (the module, and module.name for each
    name of a ``from`` import, which may itself be a submodule)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    return [target] + [f"{target}.{alias.name}" for alias in node.names]


def import_graph() -> tuple[dict[str, set[str]], int]:
    """``(module -> yaml2dag modules it imports, number of imports found inside functions)``.

    An import of a package counts as an import of its ``__init__``, except of the importer's own
    ancestors (Python has already imported them).
    """
    modules = _modules()
    edges: dict[str, set[str]] = {m: set() for m in modules}
    in_functions = 0
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        inside = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            in_functions += id(node) in inside
            for name in _imported(module, path, node):
                while name and name not in modules:
                    name = name.rpartition(".")[0]
                if name and name != module and not module.startswith(name + "."):
                    edges[module].add(name)
    return edges, in_functions


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_cycles_finds_a_cycle_it_is_given():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_between_modules_or_packages_function_level_imports_included():
    edges, in_functions = import_graph()
    assert len(edges) > 100, "the scan found too few modules"
    assert in_functions > 0, "the scan found no import inside a function; it would miss their cycles"
    assert cycles(edges) == [], "modules importing each other (imports inside functions count)"
    packages: dict[str, set[str]] = {}
    for module, targets in edges.items():
        for target in targets:
            if _package(module) != _package(target):
                packages.setdefault(_package(module), set()).add(_package(target))
    assert "yaml2dag.format" in packages.get("yaml2dag.compiler", set())
    assert cycles(packages) == [], "top-level packages importing each other"


def _function_imports_without_a_reason() -> list[str]:
    """Imports inside functions with no comment on their line, nor above the run of imports they
    belong to (``# lazy: keeps Dagster out of ...``)."""
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "_compiled.py":  # generated
            continue
        text = path.read_text()
        lines = text.splitlines()
        for function in ast.walk(ast.parse(text, str(path))):
            if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(function):
                if not isinstance(node, (ast.Import, ast.ImportFrom)):
                    continue
                if "#" in lines[node.lineno - 1]:
                    continue
                above = node.lineno - 2
                while above >= 0 and lines[above].strip().startswith(("import ", "from ", ")")) \
                        or above >= 0 and lines[above].rstrip().endswith(","):
                    above -= 1
                if above < 0 or not lines[above].strip().startswith("#"):
                    missing.append(f"{path.relative_to(REPO)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return sorted(set(missing))


def test_every_import_inside_a_function_says_why():
    """An import stays inside a function only to keep Dagster out of validate/list/show/schema or
    a heavy optional dependency off a light path, and says so in a comment (docs/architecture.md)."""
    assert _function_imports_without_a_reason() == []
