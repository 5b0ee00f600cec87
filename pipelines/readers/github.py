"""GitHub: repository trees `<dump>/github/<owner>__<name>/...`, one document per file.

Each file keeps its repository, path, programming language (by extension, or by the shebang of an
extension-less script) and the repository's licence as an SPDX id detected from its LICENSE/COPYING
text ("unknown" when none matches). Ingest filters licences here, before dedup, as in the paper (keep
Apache, BSD and MIT projects, then deduplicate): with `ctx.keep_licences` set (ingest sets the recipe's
`recipes.github_licences()`), the files of a repository of another licence are counted skips
(`license_not_permissive`, the licence as detail), so a file present in a GPL and an MIT repository can
only survive dedup as the MIT copy. Without it (reading a dump elsewhere) the reader only labels.
Hidden files and folders (`.git`, `.github/`, `.travis.yml`: `hidden_file`, as in every reader), binary,
empty, oversized (`limits.github_file_bytes`) and non-UTF-8 files are counted skips, and so is every
link (to a file or a folder, inside the repository or not: `symlink`) and every entry that is not a
regular file (`not_regular_file`): nothing outside the dump is ever read.
Origin: `<owner>__<name>/<path>`.
"""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Iterator

from pipelines.document import Document
from pipelines.readers.base import ReadContext, ReaderError, check_regular, decode_utf8, read_regular

LICENSE_READ_BYTES = 200_000
LICENSE_NAMES = re.compile(r"^(licen[cs]e|copying|unlicense)([.-].*)?$", re.I)

EXTENSIONS = {
    ".py": "Python", ".pyi": "Python", ".js": "JavaScript", ".mjs": "JavaScript", ".cjs": "JavaScript",
    ".ts": "TypeScript", ".tsx": "TypeScript", ".jsx": "JavaScript", ".java": "Java", ".c": "C", ".h": "C",
    ".cc": "C++", ".cpp": "C++", ".cxx": "C++", ".hpp": "C++", ".hh": "C++", ".cs": "C#", ".go": "Go",
    ".rs": "Rust", ".rb": "Ruby", ".php": "PHP", ".swift": "Swift", ".kt": "Kotlin", ".scala": "Scala",
    ".sh": "Shell", ".bash": "Shell", ".zsh": "Shell", ".fish": "Shell", ".pl": "Perl", ".lua": "Lua",
    ".r": "R", ".m": "Objective-C", ".jl": "Julia", ".hs": "Haskell", ".sql": "SQL", ".html": "HTML",
    ".htm": "HTML", ".css": "CSS", ".scss": "CSS", ".md": "Markdown", ".rst": "reStructuredText",
    ".tex": "TeX", ".json": "JSON", ".yml": "YAML", ".yaml": "YAML", ".toml": "TOML", ".xml": "XML",
    ".ini": "INI", ".cfg": "INI", ".svg": "SVG", ".txt": "Text", ".1": "Roff", ".mk": "Makefile",
}
FILENAMES = {"makefile": "Makefile", "dockerfile": "Dockerfile", "cmakelists.txt": "CMake"}
SHEBANGS = {"python": "Python", "node": "JavaScript", "bash": "Shell", "sh": "Shell", "zsh": "Shell",
            "perl": "Perl", "ruby": "Ruby", "php": "PHP", "lua": "Lua", "fish": "Shell"}
BINARY_EXTENSIONS = {".png", ".jpg", ".jpeg", ".gif", ".ico", ".pdf", ".zip", ".gz", ".bz2", ".xz", ".tar",
                     ".whl", ".so", ".dll", ".exe", ".o", ".a", ".class", ".jar", ".pyc", ".woff", ".woff2",
                     ".ttf", ".otf", ".mp3", ".mp4", ".wav", ".bin", ".pt", ".npy", ".parquet"}

# Order matters: the more specific texts first (LGPL mentions GPL, BSD-3 contains BSD-2's clauses).
_LICENSES = [
    ("Apache-2.0", [r"apache license,?\s+version 2\.0"]),
    ("AGPL-3.0", [r"gnu affero general public license\s+version 3"]),
    ("LGPL-3.0", [r"gnu lesser general public license\s+version 3"]),
    ("LGPL-2.1", [r"gnu lesser general public license\s+version 2\.1"]),
    ("LGPL-2.0", [r"gnu library general public license"]),
    ("GPL-3.0", [r"gnu general public license\s+version 3"]),
    ("GPL-2.0", [r"gnu general public license\s+version 2"]),
    ("MPL-2.0", [r"mozilla public license,?\s+(version|v\.?)\s*2\.0"]),
    ("BSD-3-Clause", [r"redistribution and use in source and binary forms",
                      r"(neither the name|names of its\s+contributors)"]),
    ("BSD-2-Clause", [r"redistribution and use in source and binary forms"]),
    ("MIT", [r"permission is hereby granted, free of charge", r"the above copyright notice"]),
    ("ISC", [r"permission to use, copy, modify, and(/or)? distribute this software for any purpose"]),
    ("Unlicense", [r"this is free and unencumbered software released into the public domain"]),
]
_LICENSES = [(spdx, [re.compile(p) for p in pats]) for spdx, pats in _LICENSES]


def detect_license(text: str) -> str:
    """SPDX id of a licence text, or 'unknown'."""
    t = re.sub(r"\s+", " ", text.lower())
    # GNU licences name each other in their bodies (GPL-3.0 mentions the Affero GPL); their title, at
    # the top, is what identifies them.
    head = t[:400]
    for spdx, pats in _LICENSES:
        if "GPL" in spdx:
            if all(p.search(head) for p in pats):
                return spdx
            continue
        if all(p.search(t) for p in pats):
            return spdx
    return "unknown"


def repo_license(repo_dir: Path) -> str:
    for p in sorted(repo_dir.iterdir()):
        if LICENSE_NAMES.match(p.name) and stat.S_ISREG(os.lstat(p).st_mode):  # a linked LICENSE is not read
            with open(p, "rb", opener=lambda f, fl: os.open(f, fl | getattr(os, "O_NOFOLLOW", 0) |
                                                           getattr(os, "O_NONBLOCK", 0))) as fh:
                text, _ = decode_utf8(fh.read(LICENSE_READ_BYTES))
            spdx = detect_license(text or "")
            if spdx != "unknown":
                return spdx
    return "unknown"


def is_permissive(license_id: str | None, allow: tuple[str, ...]) -> bool:
    """Is the SPDX id one of the allowed licence families (the recipe's: Apache, BSD, MIT)? A family
    matches its versions and variants (Apache-2.0, BSD-3-Clause, 0BSD); 'unknown' never does."""
    lid = (license_id or "").strip().lower().removeprefix("0")
    return any(re.match(rf"{re.escape(a.lower())}([-. ]|$)", lid) for a in allow)


def prog_lang(path: str, head: bytes) -> str | None:
    name = path.rsplit("/", 1)[-1]
    if name.lower() in FILENAMES:
        return FILENAMES[name.lower()]
    ext = os.path.splitext(name)[1].lower()
    if ext:
        return EXTENSIONS.get(ext)
    if head.startswith(b"#!"):
        # "#!/usr/bin/env python3" -> python ; "#!/bin/sh" -> sh
        words = head[2:].split(b"\n", 1)[0].decode("ascii", "replace").split()
        if words:
            prog = words[1] if words[0].endswith("/env") and len(words) > 1 else words[0].rsplit("/", 1)[-1]
            return SHEBANGS.get(re.sub(r"[\d.]+$", "", prog))
    return None


def units(ctx: ReadContext) -> list[Path]:
    """One unit per repository folder (`<owner>__<name>/`) of the snapshot. A link there is listed too,
    so that reading it counts a `symlink` skip instead of following it."""
    root = ctx.root
    repos = sorted(ctx.dump_dir / p.name for p in root.iterdir()
                   if not p.name.startswith(".") and (p.is_symlink() or stat.S_ISDIR(os.lstat(p).st_mode)))
    if not repos:
        raise ReaderError(ctx.dump_dir, "no repository folders (<owner>__<name>/) in this folder")
    return repos


def read_unit(ctx: ReadContext, repo_dir: Path) -> Iterator[Document]:
    origin = ctx.origin(repo_dir)
    st = os.lstat(repo_dir)
    if stat.S_ISLNK(st.st_mode):
        ctx.skip("symlink", origin, f"repository folder is a link to {os.readlink(repo_dir)}")
        return
    if not stat.S_ISDIR(st.st_mode) or not Path(os.path.realpath(repo_dir)).is_relative_to(ctx.root):
        ctx.skip("not_regular_file", origin, "not a folder of the dump")
        return
    repo = repo_dir.name.replace("__", "/", 1)
    license_id = repo_license(repo_dir)
    permitted = ctx.keep_licences is None or is_permissive(license_id, ctx.keep_licences)
    cap = ctx.limits.github_file_bytes
    for dirpath, dirnames, filenames in os.walk(repo_dir):  # links to folders are not entered
        for name in sorted(d for d in dirnames if os.path.islink(Path(dirpath) / d)):
            path = Path(dirpath) / name
            ctx.skip("symlink", ctx.origin(path), f"link to {os.readlink(path)}")
        # Hidden entries (.git, .github/, .travis.yml, ...) are never read, as in every reader, and the dump
        # sensor's fingerprint ignores them too: one counted skip per hidden folder (not entered) or file.
        for name in sorted(d for d in dirnames if d.startswith(".") and not os.path.islink(Path(dirpath) / d)):
            ctx.skip("hidden_file", ctx.origin(Path(dirpath) / name), "hidden folder")
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not os.path.islink(Path(dirpath) / d))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            rel = path.relative_to(repo_dir).as_posix()
            origin = ctx.origin(path)
            if name.startswith("."):
                ctx.skip("hidden_file", origin, "hidden file")
                continue
            if not permitted:              # not read: counted with its size (links etc. keep their reason)
                st = check_regular(ctx, path, origin)
                if st is not None:
                    ctx.skip("license_not_permissive", origin, license_id, st.st_size)
                continue
            data = read_regular(ctx, path, origin, cap, empty_is_skip=True)
            if data is None:
                continue
            if os.path.splitext(name)[1].lower() in BINARY_EXTENSIONS or b"\x00" in data[:8192]:
                ctx.skip("binary", origin, "binary extension or NUL byte", len(data))
                continue
            text, err = decode_utf8(data)
            if text is None:
                ctx.skip("invalid_utf8", origin, err, len(data))
                continue
            yield ctx.document(origin, text, repo=repo, path=rel, license=license_id,
                               prog_lang=prog_lang(rel, data[:200]))
