"""Where a result came from: a content hash of the project's source code.

A leaf package that depends on the standard library only, so any layer (benchmarks, the CLI,
tracking) may use it without pulling in the others.

API:
  code_version(*packages) -> str: the first 16 hex digits of a sha256 over the `*.py` files of
    the named top-level packages (or single-file modules), taken in order of their relative
    paths (`<package>/<path inside it>`, "/"-separated), each path and its bytes hashed. The
    packages are located with `importlib.util.find_spec`, never imported. Files that are not
    `*.py`, `__pycache__` and hidden folders do not count; neither do modification times or
    where the packages are installed. Raises ModuleNotFoundError for a name that cannot be found
    and ValueError for a dotted name (finding `a.b` would import `a`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import threading
from pathlib import Path

__all__ = ["code_version"]

DIGITS = 16


def code_version(*packages: str) -> str:
    """Hash of the `*.py` source of `packages` (top-level names); the first 16 hex digits."""
    files: list[tuple[str, Path]] = []
    for name in dict.fromkeys(packages):
        files.extend(_source_files(name))
    digest = hashlib.sha256()
    for relative, path in sorted(files, key=lambda item: item[0]):
        data = path.read_bytes()
        # Length-prefixed so that no two different trees hash the same stream.
        digest.update(f"{relative}\0{len(data)}\0".encode("utf-8"))
        digest.update(data)
    return digest.hexdigest()[:DIGITS]


def _source_files(name: str) -> list[tuple[str, Path]]:
    """(relative path, file) for every `*.py` of the top-level package or module `name`."""
    if not name or "." in name:
        raise ValueError(f"code_version takes top-level package names, got {name!r}")
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise ModuleNotFoundError(f"code_version: no package or module named {name!r}", name=name)
    locations = list(spec.submodule_search_locations or [])
    if not locations:  # a single-file module
        if not spec.origin or not spec.origin.endswith(".py"):
            raise ValueError(f"code_version: {name!r} is not Python source ({spec.origin})")
        return [(f"{name}.py", Path(spec.origin))]
    files = []
    for location in locations:
        root = Path(location)
        for path in root.rglob("*.py"):
            inside = path.relative_to(root).parts
            if any(part == "__pycache__" or part.startswith(".") for part in inside[:-1]):
                continue
            if path.is_file():
                files.append(("/".join((name, *inside)), path))
    return files


# The project's own top-level packages: imports of anything else (numpy, prefect, ...) are
# versioned by the installed distributions, not here.
PROJECT_PACKAGES = frozenset({
    "benchmarks", "evaluation", "flows", "gaitflow", "nets", "params", "provenance", "stages", "storage", "synth",
    "tasks", "tracking",
})


def module_version(*modules: str) -> str:
    """Hash of the source of `modules` (dotted names) and of every project module they import,
    directly or not, at module level or inside functions; the first 16 hex digits.

    The import graph is read from the source (never imported), so the version changes exactly
    when code that can run on behalf of these modules changes: editing a metric changes the
    evaluation's version and not the pose training's.
    """
    sources = _import_closure(modules)
    digest = hashlib.sha256()
    for name in sorted(sources):
        data = sources[name].read_bytes()
        digest.update(f"{name}\0{len(data)}\0".encode("utf-8"))
        digest.update(data)
    return digest.hexdigest()[:DIGITS]


def _import_closure(modules) -> dict[str, Path]:
    """{module name: source file} of `modules` and every project module they import."""
    found: dict[str, Path] = {}
    pending = [*modules]
    while pending:
        name = pending.pop()
        if name in found or name.split(".")[0] not in PROJECT_PACKAGES:
            continue
        path = _module_file(name)
        if path is None:  # an attribute named like a module (`from nets import layers` is both)
            continue
        found[name] = path
        parts = name.split(".")
        pending.extend(".".join(parts[:end]) for end in range(1, len(parts)))  # its packages' __init__
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        stat = path.stat()
        pending.extend(_imported_names(str(path), stat.st_mtime_ns, stat.st_size, package))
    return found


# CPython 3.11 before 3.11.8 can fail `ast.parse` with "AST constructor recursion depth mismatch"
# when threads parse at once (seen here on 3.11.7); ingest hashes sources on several threads.
_PARSING = threading.Lock()


@functools.lru_cache(maxsize=None)
def _imported_names(path: str, mtime_ns: int, size: int, package: str) -> tuple[str, ...]:
    """The modules (and module-like attributes) a source file imports, resolved against `package`.

    Parsing is most of a version's cost; the file's modification time and size are in the key,
    so an edited file is parsed again."""
    import ast

    names: list[str] = []
    source = Path(path).read_bytes()
    with _PARSING:
        tree = ast.parse(source, filename=path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.append(base)
            names.extend(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return tuple(names)


def _module_file(name: str) -> Path | None:
    """The source file of a project module, located without importing it (None: not a module)."""
    top, *rest = name.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        return Path(spec.origin) if spec is not None and not rest and spec.origin else None
    folder = Path(next(iter(spec.submodule_search_locations)))
    candidate = folder.joinpath(*rest)
    if candidate.is_dir() and (candidate / "__init__.py").is_file():
        return candidate / "__init__.py"
    if candidate.with_suffix(".py").is_file():
        return candidate.with_suffix(".py")
    return None
