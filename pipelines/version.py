"""Versions derived from what made an artifact, never typed by hand.

    from pipelines.version import version
    v = version(["pipelines.langid"], recipe=[...], models={"lid.176": file_digest(path)})

A version is the digest of two things:
- code: the source of every project module (packages `pipelines`, `llama_model`, `common`) in the
  import closure of the given root modules, found by reading their `import` / `from` statements with
  `ast` (nothing is imported), in name order. An import inside a function counts too. A package's
  `__init__.py` counts where a name is taken from it (`from pipelines.dedup import SCHEMA`), not where
  a submodule is (`from pipelines.quality import heuristics`): the output depends on the code a stage
  calls, not on what Python runs on the way, and closures stay as narrow as the real dependencies.
- data: whatever else decides the output, given by the caller as JSON-able values: the recipe steps
  and parameters of the partition's source, the profile fields the stage reads, content hashes of the
  model files it loads, the reader limits.

Recipes are data: `pipelines/recipes.py` enters a closure without its module-level assignments (the
recipe table and its constants), and each stage adds the steps of its partition's source as data. So
editing the c4 recipe changes the version of c4 partitions only, while editing a function of recipes.py
changes every version.

Source digests are cached per file by (size, mtime), content hashes of model files likewise: computing
a version costs a few stat calls once the closure is known.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Iterable

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pipelines", "llama_model", "common")
# Modules whose module-level assignments are data that the stages hash per source (see the module doc).
DATA_MODULES = frozenset({"pipelines.recipes"})
LENGTH = 16


def module_file(name: str, root: Path | None = None) -> Path | None:
    """The file of a project module (`pkg/mod.py` or `pkg/mod/__init__.py`), None if not one."""
    if name.split(".")[0] not in PACKAGES:
        return None
    base = Path(root or ROOT, *name.split("."))  # ROOT read now: tests point it at an edited copy
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


def _stat_key(path: Path) -> tuple:
    st = path.stat()
    return str(path), st.st_size, st.st_mtime_ns


@lru_cache(maxsize=4096)
def _parsed(key: tuple) -> ast.Module:
    return ast.parse(Path(key[0]).read_bytes(), filename=key[0])


def _resolve(name: str, root: Path) -> list[str]:
    """[name] when it is a project module, else []."""
    return [name] if module_file(name, root) else []


def imports_of(name: str, root: Path | None = None) -> list[str]:
    """The project modules one module imports (anywhere in its body), with their parent packages."""
    path = module_file(name, root)
    return [] if path is None else list(_imports(_stat_key(path), name, root))


@lru_cache(maxsize=4096)
def _imports(key: tuple, name: str, root: Path) -> tuple[str, ...]:
    path = Path(key[0])
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(_parsed(key)):
        if isinstance(node, ast.Import):
            for a in node.names:
                out.update(_resolve(a.name, root))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            for a in node.names:  # `from pkg import module` takes a module; `from pkg import name` the package
                sub = _resolve(f"{mod}.{a.name}", root)
                out.update(sub or _resolve(mod, root))
    out.discard(name)
    return tuple(sorted(out))


def closure(roots: Iterable[str], root: Path | None = None, exclude: Iterable[str] = ()) -> list[str]:
    """Every project module reachable from `roots` (themselves included), sorted by name; modules in
    `exclude` are not entered (e.g. the readers of other sources, behind readers/__init__.py)."""
    seen: set[str] = set(exclude)
    todo = [m for r in roots for m in _resolve(r, root)]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(imports_of(m, root))
    return sorted(seen - set(exclude))


@lru_cache(maxsize=4096)
def _source_digest(key: tuple, data_module: bool) -> str:
    if not data_module:
        return hashlib.sha256(Path(key[0]).read_bytes()).hexdigest()
    tree = _parsed(key)
    # Functions, classes and imports are code; the module-level tables are data (hashed per source).
    body = [n for n in tree.body if not isinstance(n, (ast.Assign, ast.AnnAssign, ast.Expr))]
    return hashlib.sha256(ast.dump(ast.Module(body=body, type_ignores=[])).encode()).hexdigest()


def source_digest(name: str, root: Path | None = None) -> str:
    path = module_file(name, root)
    if path is None:
        raise ValueError(f"{name} is not a module of {', '.join(PACKAGES)} under {root}")
    return _source_digest(_stat_key(path), name in DATA_MODULES)


def code_digest(roots: Iterable[str], root: Path | None = None, exclude: Iterable[str] = ()) -> dict[str, str]:
    """{module: digest of its source} over the closure of `roots`."""
    return {m: source_digest(m, root)[:LENGTH] for m in closure(roots, root, exclude)}


@lru_cache(maxsize=1024)
def _file_sha256(key: tuple) -> str:
    h = hashlib.sha256()
    with open(key[0], "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def file_digest(path: str | os.PathLike) -> str:
    """Content hash of a model file (or of every file below a folder, by relative path); a missing path
    hashes as "missing" so the version changes when it appears."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file())
        return digest_of({f.relative_to(p).as_posix(): _file_sha256(_stat_key(f)) for f in files})
    if not p.is_file():
        return "missing"
    return _file_sha256(_stat_key(p))


def digest_of(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:LENGTH]


def version(roots: Iterable[str], root: Path | None = None, exclude: Iterable[str] = (), **data: object) -> str:
    """The version of what `roots` compute from `data` (recipe, profile fields, model hashes, limits)."""
    return digest_of({"code": code_digest(roots, root, exclude), "data": data})


def explain(roots: Iterable[str], root: Path | None = None, exclude: Iterable[str] = (), **data: object) -> dict:
    """What a version is made of (for lineage and asset metadata)."""
    return {"version": version(roots, root, exclude, **data), "modules": code_digest(roots, root, exclude),
            "data": data}


def file_version(path: str | os.PathLike, root: Path | None = None, roots: Iterable[str] = (), **data: object) -> str:
    """The version of a module outside the project packages (an asset module): its own bytes, the
    closure of the project modules it imports and of `roots` (modules it runs by name), and `data`."""
    p = Path(path)
    tree = _parsed(_stat_key(p))
    roots = set(roots)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            roots.update([node.module] + [f"{node.module}.{a.name}" for a in node.names])
    return digest_of({"file": _file_sha256(_stat_key(p)), "code": code_digest(sorted(roots), root), "data": data})
