#!/usr/bin/env python3
"""Check that imports between the orchestrator's layers point one way (down).

Layers, bottom to top (a module may import its own layer and any layer below it):

    core       orchestrator.core, errors, jobs, redaction   shared types and vocabularies
    transport  orchestrator.transport                      running commands here or over SSH
    tosca      orchestrator.tosca                          reading and checking templates
    plan       orchestrator.plan                           templates -> ordered steps
    state      orchestrator.state                          the workspace's SQLite store
    slurm      orchestrator.slurm                          schedulers (Slurm, local processes)
    executors  orchestrator.executors                      running one operation (Ansible, native)
    engine     orchestrator.engine                         running a plan
    service    orchestrator.service                        the one facade
    faces      orchestrator.cli, api, events               what users call

Every import counts, at module level or inside a function (a deferred import hides a cycle,
it does not remove it). Also reported: any import cycle between the packages of
``workflows/runtime``, and any import inside a function of ``orchestrator/`` without a
one-line reason (a comment on the import's line or on the line above its block of imports):
deferred imports are for start-up time and optional packages, and each says which.
Exit status 1 when something is wrong.

Usage: python scripts/check_layers.py
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("orchestrator.core", "orchestrator.errors", "orchestrator.jobs",
              "orchestrator.redaction", "orchestrator")),
    ("transport", ("orchestrator.transport",)),
    ("tosca", ("orchestrator.tosca",)),
    ("plan", ("orchestrator.plan",)),
    ("state", ("orchestrator.state",)),
    ("slurm", ("orchestrator.slurm",)),
    ("executors", ("orchestrator.executors",)),
    ("engine", ("orchestrator.engine",)),
    ("service", ("orchestrator.service",)),
    ("faces", ("orchestrator.cli", "orchestrator.api", "orchestrator.events")),
]  # fmt: skip


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer index)
    for index, (_name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return None if best is None else best[1]


def imports_of(path: Path, module: str) -> list[tuple[str, int]]:
    """(imported module, line) for every import in ``path``, relative ones resolved."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")
                up = up[: len(up) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            found.append((base, node.lineno))
            # ``from orchestrator import service`` imports the submodule.
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return found


def check_orchestrator(root: Path = ROOT) -> list[str]:
    """One line per import that points up the layer order, in the tree under ``root``."""
    problems = []
    for path in sorted((root / "orchestrator").rglob("*.py")):
        module = module_name(path, root)
        own = layer_of(module)
        seen: set[int] = set()  # one report per import statement
        for target, line in imports_of(path, module):
            if not target.startswith("orchestrator") or line in seen:
                continue
            theirs = layer_of(target)
            if own is None or theirs is None or target == "orchestrator":
                continue
            if theirs > own:
                seen.add(line)
                problems.append(
                    f"{path.relative_to(root)}:{line}: {module} ({LAYERS[own][0]}) imports "
                    f"{target} ({LAYERS[theirs][0]}), a layer above it"
                )
    return sorted(set(problems))


def unexplained_deferred_imports(root: Path = ROOT) -> list[str]:
    """Imports inside functions of ``orchestrator/`` that carry no comment saying why."""
    problems = []
    for path in sorted((root / "orchestrator").rglob("*.py")):
        lines = path.read_text().splitlines()
        tree = ast.parse("\n".join(lines), str(path))
        deferred = {
            node.lineno
            for fn in ast.walk(tree)
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
            for node in ast.walk(fn)
            if isinstance(node, (ast.Import, ast.ImportFrom))
        }
        for lineno in sorted(deferred):
            if "#" in lines[lineno - 1]:
                continue
            first = lineno  # walk up the block of imports this one belongs to
            while first - 1 in deferred and "#" not in lines[first - 2]:
                first -= 1
            above = lines[first - 2].strip() if first >= 2 else ""
            if first - 1 in deferred or above.startswith("#"):
                continue
            problems.append(
                f"{path.relative_to(root)}:{lineno}: import inside a function without a "
                f"one-line reason: {lines[lineno - 1].strip()}"
            )
    return problems


def runtime_cycles() -> list[str]:
    """Import cycles between the modules of workflows/runtime (every import counts)."""
    base = ROOT / "workflows" / "runtime"
    graph: dict[str, set[str]] = defaultdict(set)
    names = {module_name(p) for p in base.rglob("*.py")}
    for path in base.rglob("*.py"):
        module = module_name(path)
        for target, _line in imports_of(path, module):
            while target and target not in names:
                target = target.rpartition(".")[0]
            if target and target != module and target != "workflows.runtime":
                graph[module].add(target)
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(names):
        if node not in state:
            visit(node, [])
    return [f"workflows/runtime import cycle: {c}" for c in cycles]


def main(argv: list[str]) -> int:
    problems = check_orchestrator() + runtime_cycles() + unexplained_deferred_imports()
    for line in problems:
        print(line)
    print(f"check_layers: {len(problems)} problem(s)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
