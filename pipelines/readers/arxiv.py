"""ArXiv: LaTeX source archives `*.tar.gz` (one paper each, as arXiv e-prints come), one document per paper.

Cleanup from SPEC §1, in this order: comments removed; `\\input`/`\\include` inlined; user macros
(`\\newcommand`, `\\renewcommand`, `\\providecommand`, `\\def`, with arguments and an optional default)
expanded inline and their definitions removed; everything before the first `\\section` dropped; the
bibliography (`thebibliography`, `\\bibliography{}`) and anything after `\\end{document}` dropped.
Archives are read in memory (never extracted); each member passes tarfile's "data" filter first, so
absolute paths, `..` and links out of the archive are refused. Caps (base.Limits): entries per archive,
bytes per .tex member, .tex bytes per archive; an archive over them is a counted skip (`too_large`).
Origin: the archive path.
"""
from __future__ import annotations

import gzip
import os
import re
import tarfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Iterator

from pipelines.document import Document
from pipelines.readers.base import ReadContext, list_files, open_regular, read_capped

SUFFIXES = (".tar.gz", ".tgz", ".tar")
MAX_PASSES = 10

_COMMENT = re.compile(r"((?:[^\\%]|\\.)*)%.*")
_COMMENT_ENV = re.compile(r"\\begin\{comment\}.*?\\end\{comment\}", re.S)
_INPUT = re.compile(r"\\(?:input|include)\s*(?:\{([^}]*)\}|([^\s{}\\]+))")
_DEFINE = re.compile(r"\\(?:re)?newcommand\*?|\\providecommand\*?|\\def(?![A-Za-z@])")
_SECTION = re.compile(r"\\section\*?\s*[\[{]")
_BIB_ENV = re.compile(r"\\begin\{thebibliography\}.*?(\\end\{thebibliography\}|\Z)", re.S)
_BIB_CMD = re.compile(r"\\(bibliography|bibliographystyle|printbibliography|addbibresource)\b(\s*\{[^}]*\})?")
_END_DOC = re.compile(r"\\end\{document\}")


def strip_comments(tex: str) -> str:
    """Drop `%` comments (an escaped `\\%` stays); a line that was only a comment disappears."""
    tex = _COMMENT_ENV.sub("", tex)
    out = []
    for line in tex.split("\n"):
        m = _COMMENT.match(line) if "%" in line else None
        if m is None:
            out.append(line)
        elif m.group(1).strip():
            out.append(m.group(1).rstrip())
    return "\n".join(out)


def _group(s: str, i: int, open_: str = "{", close: str = "}") -> tuple[str, int] | None:
    """Content of the balanced group starting at s[i] == open_, and the index after it."""
    if i >= len(s) or s[i] != open_:
        return None
    depth, j = 0, i
    while j < len(s):
        c = s[j]
        if c == "\\":
            j += 2
            continue
        if c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return s[i + 1:j], j + 1
        j += 1
    return None


def _skip_ws(s: str, i: int) -> int:
    while i < len(s) and s[i] in " \t\n":
        i += 1
    return i


def _parse_definition(s: str, m: re.Match):
    """(name, n_args, default, body, end) of the definition at m, or None when it is not well formed."""
    i = _skip_ws(s, m.end())
    if m.group(0) == "\\def":
        nm = re.match(r"\\([A-Za-z@]+)", s[i:])
        if not nm:
            return None
        i += nm.end()
        params = re.match(r"[^{]*", s[i:]).group(0)   # "#1#2"
        if not re.fullmatch(r"(\s*#\d)*\s*", params):
            return None  # delimited parameters are beyond this expander: leave it alone
        i += len(params)
        g = _group(s, i)
        return (nm.group(1), params.count("#"), None, g[0], g[1]) if g else None
    if i < len(s) and s[i] == "{":
        g = _group(s, i)
        if not g:
            return None
        name, i = g[0].strip(), g[1]
    else:
        nm = re.match(r"\\[A-Za-z@]+", s[i:])
        if not nm:
            return None
        name, i = nm.group(0), i + nm.end()
    if not re.fullmatch(r"\\[A-Za-z@]+", name):
        return None
    nargs, default = 0, None
    i = _skip_ws(s, i)
    g = _group(s, i, "[", "]")
    if g:
        if not g[0].strip().isdigit():
            return None
        nargs, i = int(g[0]), _skip_ws(s, g[1])
        g = _group(s, i, "[", "]")
        if g:
            default, i = g[0], _skip_ws(s, g[1])
    g = _group(s, i)
    return (name[1:], nargs, default, g[0], g[1]) if g else None


def collect_macros(tex: str) -> tuple[str, dict]:
    """Remove user macro definitions from `tex`; return (text, {name: (n_args, default, body)})."""
    macros, out, pos = {}, [], 0
    for m in _DEFINE.finditer(tex):
        if m.start() < pos:
            continue  # inside a definition already consumed
        d = _parse_definition(tex, m)
        if d is None:
            continue
        name, nargs, default, body, end = d
        macros[name] = (nargs, default, body)
        out.append(tex[pos:m.start()])
        pos = end
    out.append(tex[pos:])
    return "".join(out), macros


def _arg(s: str, i: int) -> tuple[str, int]:
    """One undelimited macro argument at s[i:]: a brace group, a control word or one character."""
    i = _skip_ws(s, i)
    g = _group(s, i)
    if g:
        return g
    m = re.match(r"\\[A-Za-z@]+|\\.|.", s[i:], re.S)
    return (m.group(0), i + m.end()) if m else ("", i)


def expand_macros(tex: str, macros: dict) -> str:
    """Replace every use of a user macro by its body with arguments substituted (nested uses too)."""
    if not macros:
        return tex
    names = sorted(macros, key=len, reverse=True)
    use = re.compile(r"\\(" + "|".join(map(re.escape, names)) + r")(?![A-Za-z@])")
    limit = 4 * len(tex) + 100_000  # a self-referencing macro must not blow up
    for _ in range(MAX_PASSES):
        out, pos, changed = [], 0, False
        for m in use.finditer(tex):
            if m.start() < pos:
                continue
            nargs, default, body = macros[m.group(1)]
            i, args = m.end(), []
            if default is not None:
                j = _skip_ws(tex, i)
                g = _group(tex, j, "[", "]")
                args.append(g[0] if g else default)
                i = g[1] if g else i
            while len(args) < nargs:
                a, i = _arg(tex, i)
                args.append(a)
            if nargs == 0 and default is None and tex.startswith("{}", i):
                i += 2  # "\\name{}" is the usual way to keep the space after a macro: the group is empty
            rep = re.sub(r"#(\d)", lambda k, args=args: args[int(k.group(1)) - 1] if 0 < int(k.group(1)) <= len(args) else "", body)
            out.append(tex[pos:m.start()])
            out.append(rep)
            pos, changed = i, True
        out.append(tex[pos:])
        tex = "".join(out)
        if not changed or len(tex) > limit:
            break
    return tex


def inline_inputs(tex: str, files: dict[str, str], depth: int = 0) -> str:
    """Replace \\input{x} / \\include{x} by the (comment-stripped) file x[.tex] of the archive."""
    if depth > 10:
        return tex

    def sub(m: re.Match) -> str:
        name = (m.group(1) or m.group(2) or "").strip()
        for cand in (name, name + ".tex"):
            key = str(PurePosixPath(cand))
            if key in files:
                return inline_inputs(files[key], files, depth + 1)
        return ""  # a missing file (figure data, class file) contributes no text

    return _INPUT.sub(sub, tex)


def find_main(files: dict[str, str]) -> str | None:
    """The .tex file with \\documentclass (preferring one with \\begin{document}, then the shortest path)."""
    cands = [n for n, t in files.items() if "\\documentclass" in t]
    if not cands:
        return None
    return sorted(cands, key=lambda n: ("\\begin{document}" not in files[n], n.count("/"), n))[0]


def latex_to_text(files: dict[str, str]) -> tuple[str | None, str | None, str]:
    """(text, title, reason if no text). `files` maps archive paths of .tex files to their text."""
    files = {n: strip_comments(t) for n, t in files.items()}
    main = find_main(files)
    if main is None:
        return None, None, "no_main_tex"
    tex = inline_inputs(files[main], files)
    tex, macros = collect_macros(tex)
    tex = expand_macros(tex, macros)
    title = None
    t = re.search(r"\\title\s*(\[[^\]]*\])?\s*\{", tex)
    if t:
        g = _group(tex, t.end() - 1)
        title = re.sub(r"\s+", " ", g[0]).strip() if g else None
    sec = _SECTION.search(tex)
    if sec is None:
        return None, title, "no_section"
    tex = tex[sec.start():]
    end = _END_DOC.search(tex)
    if end:
        tex = tex[:end.start()]
    tex = _BIB_ENV.sub("", tex)
    tex = _BIB_CMD.sub("", tex)
    tex = re.sub(r"\n{3,}", "\n\n", tex).strip()
    return (tex or None), title, ("" if tex else "empty_text")


class _TooLarge(Exception):
    pass


def _members(ctx: ReadContext, path: Path, fh) -> dict[str, bytes]:
    """The .tex members of one archive (a lone gzipped .tex, as arXiv serves some papers, also works).

    Caps (ctx.limits): entries per archive, bytes per .tex member (a larger member is left out and
    counted in notes['tex_members_too_large']) and .tex bytes per archive; over the first or the last
    the paper is `too_large` (_TooLarge). Members are read from the stream, never extracted."""
    lim, out, total, entries = ctx.limits, {}, 0, 0
    try:
        with tarfile.open(fileobj=fh, mode="r:*") as tf:
            for member in tf:
                entries += 1
                if entries > lim.archive_members:
                    raise _TooLarge(f"more than {lim.archive_members} entries")
                try:
                    member = tarfile.data_filter(member, "/nonexistent-dest")
                except tarfile.FilterError:
                    continue  # unsafe member (absolute path, .., link out of the archive)
                if not (member.isfile() and member.name.endswith(".tex")):
                    continue
                if member.size > lim.archive_member_bytes:
                    ctx.notes["tex_members_too_large"] += 1
                    continue
                total += member.size
                if total > lim.archive_bytes:
                    raise _TooLarge(f"more than {lim.archive_bytes} bytes of .tex")
                out[str(PurePosixPath(member.name))] = tf.extractfile(member).read(member.size)
    except tarfile.ReadError:
        if path.name.endswith(".tar"):
            raise
        fh.seek(0)
        with gzip.GzipFile(fileobj=fh, mode="rb") as gz:  # not a tar: maybe a single gzipped .tex
            data, size = read_capped(gz, lim.archive_member_bytes)
        if data is None:
            raise _TooLarge(f"gzipped .tex of {size} bytes > {lim.archive_member_bytes}") from None
        out["main.tex"] = data
    return out


def units(ctx: ReadContext) -> list[Path]:
    return list_files(ctx, SUFFIXES)


def read_unit(ctx: ReadContext, path: Path) -> Iterator[Document]:
    origin = ctx.origin(path)
    fh = open_regular(ctx, path, origin)
    if fh is None:
        return
    with fh:
        size = os.fstat(fh.fileno()).st_size
        try:
            raw = _members(ctx, path, fh)
        except _TooLarge as e:
            ctx.skip("too_large", origin, f"{path.name}: {e}", size)
            return
        except (tarfile.TarError, OSError, EOFError, zlib.error) as e:
            ctx.skip("corrupt_archive", origin, f"{path.name}: {type(e).__name__}: {e}", size)
            return
    if not raw:
        ctx.skip("no_tex", origin, "no .tex file in the archive", size)
        return
    files, bad = {}, 0
    for name, data in raw.items():
        try:
            files[name] = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            files[name] = data.decode("latin-1")  # older papers are often Latin-1; every byte maps
            bad += 1
    ctx.notes["latin1_decoded_files"] += bad
    text, title, reason = latex_to_text(files)
    if text is None:
        ctx.skip(reason, origin, title or "", size)
        return
    m = re.match(r"(\d{4}\.\d{4,5}|[a-z\-]+/\d{7})", path.name.removesuffix(".tar.gz"))
    url = f"https://arxiv.org/abs/{m.group(1)}" if m else None
    yield ctx.document(origin, text, title=title, url=url)
