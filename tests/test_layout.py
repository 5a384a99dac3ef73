"""The house itself: no import cycle, every module says what it is, no Telegram in the library, and every
import of a project name resolves (also the ones inside functions, which only run on their own path).

An import cycle held together by a lazy import breaks the day someone moves that import to the top; a
module without a first line has to be read through to be understood. Every import counts: at module
level, inside functions, and under ``if TYPE_CHECKING:`` (a cycle there is still two modules that
cannot be understood apart).
"""
from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

from .conftest import ROOT

PACKAGES = ("retrieval", "bot", "api")


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _imports(modules: dict[str, tuple[Path, bool]]) -> dict[str, set[str]]:
    """Each module's imports of other modules of the project, at module level or inside functions."""
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_package) in modules.items():
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ImportFrom):
                base = name.split(".") if is_package else name.split(".")[:-1]
                if node.level > 1:
                    base = base[: len(base) - (node.level - 1)]
                target = node.module if node.level == 0 else ".".join(base + ([node.module] if node.module else []))
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    edges[name].add(sub if sub in modules else target)
            elif isinstance(node, ast.Import):
                edges[name].update(alias.name for alias in node.names)
        edges[name] = {t for t in edges[name] if t in modules and t != name}
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
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


def test_no_import_cycle_in_the_library_or_the_bot():
    modules = _modules()
    assert len(modules) > 50  # the walk found the packages
    assert _cycles(_imports(modules)) == []


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_every_module_says_in_its_first_line_what_it_is():
    silent = [str(path.relative_to(ROOT)) for path, _ in _modules().values()
              if path.name != "__main__.py" and not (ast.get_docstring(_tree(path)) or "").strip()]
    assert silent == []


def test_the_library_has_no_telegram_in_it():
    """python-telegram-bot only in bot/, and the library imports no app at all: the bot and the API plug
    their commands and settings in through the ``citebot.apps`` entry points (retrieval/cli/registry.py)."""
    imports = _imports_any(_modules())
    telegram = [name for name, targets in imports.items() if name.startswith("retrieval")
                and any(t == "telegram" or t.startswith("telegram.") for t in targets)]
    assert telegram == []
    reaches_bot = sorted(name for name, targets in imports.items() if name.startswith("retrieval")
                         and any(t.split(".")[0] in ("bot", "api") for t in targets))
    assert reaches_bot == []


def test_the_api_uses_only_the_library_surface_and_no_web_framework_enters_the_library():
    """api/ imports ``from retrieval import ...`` only (its public names), like an outside program would;
    FastAPI, Starlette and uvicorn appear nowhere in retrieval/."""
    imports = _imports_any(_modules())
    deep = sorted(f"{name}: {t}" for name, targets in imports.items() if name.startswith("api")
                  for t in targets if t.startswith("retrieval."))
    assert deep == []
    web = sorted(name for name, targets in imports.items() if name.startswith("retrieval")
                 and any(t.split(".")[0] in ("fastapi", "starlette", "uvicorn") for t in targets))
    assert web == []


def _imports_any(modules: dict[str, tuple[Path, bool]]) -> dict[str, set[str]]:
    """Every absolute import of each module, project or not (to find third-party ones)."""
    out: dict[str, set[str]] = {}
    for name, (path, _) in modules.items():
        targets: set[str] = set()
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets.add(node.module)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
        out[name] = targets
    return out


def test_every_import_of_a_project_name_resolves_also_inside_functions():
    """A lazy import (inside a function) of a renamed or moved name breaks only when that path runs: a
    benchmark, a repair, `citebot bot`. Every one of them must name something that exists."""
    broken = []
    for folder in ("retrieval", "bot", "api", "bench", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            name = ".".join(parts[:-1] if is_package else parts)
            for node in ast.walk(_tree(path)):
                if not isinstance(node, ast.ImportFrom):
                    continue
                base = name.split(".") if is_package else name.split(".")[:-1]
                if node.level > 1:
                    base = base[: len(base) - (node.level - 1)]
                target = node.module if node.level == 0 else ".".join(base + ([node.module] if node.module else []))
                if not target or target.split(".")[0] not in ("retrieval", "bot", "api", "bench", "tests"):
                    continue
                module = importlib.import_module(target)
                for alias in node.names:
                    if not hasattr(module, alias.name) and importlib.util.find_spec(f"{target}.{alias.name}") is None:
                        broken.append(f"{path.relative_to(ROOT)}:{node.lineno}: {target} has no {alias.name}")
    assert broken == []
