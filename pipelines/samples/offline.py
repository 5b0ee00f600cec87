"""Writers of the sources that come as files rather than crawls: GitHub repository trees, Gutenberg
books, arXiv source tarballs and a StackExchange Posts.xml."""
from __future__ import annotations

import gzip
import io
import random
import tarfile
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from pipelines.document import doc_id
from pipelines.samples import text as T
from pipelines.samples.common import DUMPS, REAL_BOOK_PAIR, REAL_NONPERMISSIVE, Plan, Truth, jaccard, overlap

# --------------------------------------------------------------------------------------- github
MIT = """MIT License

Copyright (c) {year} {holder}

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""
BSD3 = """BSD 3-Clause License

Copyright (c) {year}, {holder}
All rights reserved.

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this
   list of conditions and the following disclaimer.

2. Redistributions in binary form must reproduce the above copyright notice,
   this list of conditions and the following disclaimer in the documentation
   and/or other materials provided with the distribution.

3. Neither the name of the copyright holder nor the names of its
   contributors may be used to endorse or promote products derived from
   this software without specific prior written permission.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE
DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE
FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER
CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY,
OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
"""
APACHE = """
                                 Apache License
                           Version 2.0, January 2004
                        http://www.apache.org/licenses/

   Copyright {year} {holder}

   Licensed under the Apache License, Version 2.0 (the "License");
   you may not use this file except in compliance with the License.
   You may obtain a copy of the License at

       http://www.apache.org/licenses/LICENSE-2.0

   Unless required by applicable law or agreed to in writing, software
   distributed under the License is distributed on an "AS IS" BASIS,
   WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
   See the License for the specific language governing permissions and
   limitations under the License.
"""
LICENSE_TEXTS = [("mit", MIT), ("bsd", BSD3), ("apache", APACHE)]


def python_file(rng: random.Random, functions: int) -> str:
    out = [f'"""{T.sentence(rng)}"""', "from __future__ import annotations", "", "import math", ""]
    for _ in range(functions):
        a, b = rng.choice(T.ADJECTIVES), rng.choice(T.NOUNS)
        limit = rng.randrange(2, 100)
        out += ["", f"def {a}_{b}_{rng.randrange(1000)}(values, limit={limit}):",
                f'    """Return the {a} {b} of the given values (items above {limit} count twice)."""',
                "    total = 0", "    for item in values:", "        if item > limit:",
                f"            total += item * {rng.randrange(2, 9)}", "        else:",
                "            total += math.sqrt(abs(item))", "    return total", ""]
    return "\n".join(out) + "\n"


def js_file(rng: random.Random, functions: int) -> str:
    out = ["'use strict';", ""]
    for _ in range(functions):
        name = f"{rng.choice(T.ADJECTIVES)}{rng.choice(T.NOUNS).title()}{rng.randrange(100)}"
        out += [f"// {T.sentence(rng)}", f"function {name}(items, limit = {rng.randrange(2, 50)}) {{",
                "  return items.filter((x) => x > limit).map((x) => x * 2);", "}", "",
                f"module.exports.{name} = {name};", ""]
    return "\n".join(out)


def bad_files(rng: random.Random) -> list[tuple[str, str, str]]:
    """(path, text, reason) of files failing one SPEC §1 GitHub heuristic each."""
    long_line = ("DATA = [" + ", ".join(str(rng.randrange(10**6)) for _ in range(300)) + "]\n\n"
                 + "".join(f"ROW_{i} = DATA[{i}] * {rng.randrange(2, 9)}\n" for i in range(60)))  # short lines
    wide = "\n".join(f"# {T.sentence(rng)} {T.sentence(rng)} {T.sentence(rng)}"[:160].ljust(150, ".")
                     for _ in range(20)) + "\n"
    art = "\n".join(("+-" * rng.randrange(10, 30)) + "+  |  " + ("=~" * 10) + " ]]" for _ in range(30)) + "\n"
    return [("tables/table.py", long_line, "max_line_length"), ("docs/notes.txt", wide, "mean_line_length"),
            ("art/banner.txt", art, "alnum_fraction")]


def write_github(out: Path, plan: Plan, rng: random.Random, truth: Truth) -> None:
    root = out / "github" / DUMPS["github"]
    holders = rng.sample(T.NAMES, len(T.NAMES))

    def put(repo_dir: Path, rel: str, data: bytes) -> str:
        p = repo_dir / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        return doc_id("github", f"{DUMPS['github']}/{repo_dir.name}/{rel}")

    first_run = None
    for r in range(plan.github_repos + 1):
        kind, lic = LICENSE_TEXTS[r % 3] if r < plan.github_repos else ("nolicense", None)
        repo = f"sample-{kind}__{rng.choice(T.ADJECTIVES)}-{rng.choice(T.NOUNS)}-{r}"
        d = root / repo
        if lic:
            put(d, "LICENSE", lic.format(year=2015 + r % 9, holder=f"{holders[r % len(holders)]} {r}").encode())
        else:
            truth.github_nonpermissive_repos.append(repo.replace("__", "/", 1))
        put(d, "README.md", f"# {repo.split('__')[1]}\n\n{T.english(rng, 2)}\n".encode())
        for f in range(plan.github_files):
            if f % 3 == 2:
                put(d, f"src/{rng.choice(T.NOUNS)}_{f}.js", js_file(rng, rng.randrange(2, 6)).encode())
            else:
                put(d, f"src/{rng.choice(T.NOUNS)}_{f}.py", python_file(rng, rng.randrange(2, 6)).encode())
        run_id = put(d, "bin/run", b"#!/usr/bin/env bash\nset -euo pipefail\npython -m src \"$@\"\n")
        if first_run is None:
            first_run = run_id
        else:  # the same launcher script in every repository: exact file-level duplicates
            truth.exact_duplicates.append([run_id, first_run])
        put(d, "assets/logo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + rng.randbytes(48))  # reader: binary
        put(d, "src/__init__.py", b"")  # reader: empty_file
        for rel, text, reason in bad_files(rng):
            truth.github_bad[put(d, rel, text.encode())] = reason
    if plan.with_real:
        truth.github_nonpermissive_repos[:0] = REAL_NONPERMISSIVE


# ---------------------------------------------------------------------------------------- books
PG_NEW = ("The Project Gutenberg eBook of {title}\n\nThis ebook is for the use of anyone anywhere in the United States "
          "and\nmost other parts of the world at no cost and with almost no restrictions\nwhatsoever.\n\n"
          "Title: {title}\n\nAuthor: {author}\n\nRelease date: {date} [eBook #{num}]\n\nLanguage: English\n\n\n"
          "*** START OF THE PROJECT GUTENBERG EBOOK {upper} ***\n\n\n{body}\n\n\n"
          "*** END OF THE PROJECT GUTENBERG EBOOK {upper} ***\n\n\n\nUpdated editions will replace the previous one"
          "--the old editions will\nbe renamed.\n\nSection 1. General Terms of Use and Redistributing Project "
          "Gutenberg™\nelectronic works\n")
PG_OLD = ("\ufeffThe Project Gutenberg EBook of {title}, by {author}\r\n\r\nThis eBook is for the use of anyone "
          "anywhere at no cost and with\r\nalmost no restrictions whatsoever.\r\n\r\nTitle: {title}\r\n\r\n"
          "Author: {author}\r\n\r\nPosting Date: {date} [EBook #{num}]\r\n\r\nLanguage: English\r\n\r\n"
          "*** START OF THIS PROJECT GUTENBERG EBOOK {upper} ***\r\n\r\n\r\n{body}\r\n\r\n\r\n"
          "End of the Project Gutenberg EBook of {title}, by {author}\r\n\r\n"
          "*** END OF THIS PROJECT GUTENBERG EBOOK {upper} ***\r\n\r\n***** This file should be named {num}.txt "
          "*****\r\n")


def book_body(rng: random.Random, paragraphs: int) -> str:
    out = []
    for i in range(paragraphs):
        if i % 20 == 0:
            out.append(f"CHAPTER {i // 20 + 1}.")
        out.append(T.paragraph(rng, rng.randrange(3, 8)))
    return "\n\n".join(out)


def write_books(out: Path, plan: Plan, rng: random.Random, truth: Truth) -> None:
    root = out / "books" / DUMPS["books"]
    root.mkdir(parents=True, exist_ok=True)

    def write(num: int, body: str, old: bool) -> str:
        title, author = T.title(rng), f"{rng.choice(T.NAMES)} {rng.choice(T.NAMES)}son"
        tpl = PG_OLD if old else PG_NEW
        if old:
            body = body.replace("\n", "\r\n")
        text = tpl.format(title=title, author=author, date="May 3, 2011", num=num, upper=title.upper(), body=body)
        (root / f"generated-{num}.txt").write_bytes(text.encode())  # not "pg<n>": not a real PG number
        return doc_id("books", f"{DUMPS['books']}/generated-{num}.txt")

    # The overlapping pair: one edition and a reissue with one paragraph in 25 rewritten (~95% overlap).
    body = book_body(rng, plan.book_paragraphs)
    paras = body.split("\n\n")
    edited = [T.paragraph(rng, 4) if (i % 25 == 7 and not p.startswith("CHAPTER")) else p
              for i, p in enumerate(paras)]
    edition = "\n\n".join(edited)
    a, b = write(90001, body, old=False), write(90002, edition, old=True)
    truth.book_overlap.append({"a": a, "b": b, "overlap": round(overlap(body, edition), 4),
                               "jaccard": round(jaccard(body, edition), 4)})
    if plan.with_real:
        truth.book_overlap.insert(0, dict(REAL_BOOK_PAIR))
    for k in range(plan.books):
        write(90003 + k, book_body(rng, plan.book_paragraphs), old=bool(k % 2))


# ---------------------------------------------------------------------------------------- arxiv
PAPER_MAIN = r"""%% Generated sample paper: the reader must drop this comment, the preamble and the bibliography.
\documentclass[11pt]{article}
\usepackage{amsmath}
\newcommand{\R}{\mathbb{R}}
\newcommand{\norm}[1]{\left\lVert #1 \right\rVert}
\newcommand*{\pair}[2][x]{\langle #1, #2 \rangle}
\renewcommand{\vec}[1]{\mathbf{#1}}
\def\method{{NAME}}
\def\score#1#2{s(#1 \mid #2)}
\title{On the \method{} for {TOPIC}}
\author{{AUTHOR}}
\begin{document}
\maketitle
\begin{abstract}
{ABSTRACT}
\end{abstract}
% \section{Old introduction} this commented section must not count as the first section
\input{sections/intro}
\section{Method}
{METHOD} % trailing comment
We define \score{\vec{x}}{\theta} for $\vec{x} \in \R^d$ and bound $\norm{\vec{x}} \le 1$, with $\pair{y}$ and $\pair[z]{y}$.
The cost is 100\% lower with \method.
\include{sections/results}
\begin{thebibliography}{9}
\bibitem{a} {AUTHOR}. A previous study. 2019.
\end{thebibliography}
\end{document}
"""


def write_arxiv(out: Path, plan: Plan, rng: random.Random, truth: Truth) -> None:
    root = out / "arxiv" / DUMPS["arxiv"]
    root.mkdir(parents=True, exist_ok=True)
    for k in range(plan.papers):
        name = f"{rng.choice(T.ADJECTIVES).title()}{rng.choice(T.NOUNS).title()}"
        main = (PAPER_MAIN.replace("{NAME}", name).replace("{TOPIC}", T.title(rng))
                .replace("{AUTHOR}", f"{rng.choice(T.NAMES)} {rng.choice(T.NAMES)}son")
                .replace("{ABSTRACT}", T.paragraph(rng, 3)).replace("{METHOD}", T.paragraph(rng, 4)))
        files = {"main.tex": main,
                 "sections/intro.tex": "\\section{Introduction}\n% draft note: rewrite\n"
                                       + T.english(rng, 2).replace("\n\n", "\n\nThe \\method{} matters. ") + "\n",
                 "sections/results.tex": "\\section{Results}\n" + T.english(rng, 2) + "\n\\subsection{Ablation}\n"
                                         + T.paragraph(rng, 3) + "\n",
                 "refs.bib": "@article{a, title={A previous study}, year={2019}}\n"}
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
            for fname in sorted(files):
                data = files[fname].encode()
                info = tarfile.TarInfo(fname)
                info.size, info.mtime, info.mode, info.uid, info.gid = len(data), 1577836800, 0o644, 0, 0
                info.uname = info.gname = ""
                tf.addfile(info, io.BytesIO(data))
        (root / f"2301.{k + 1:05d}.tar.gz").write_bytes(gzip.compress(buf.getvalue(), 9, mtime=0))


# -------------------------------------------------------------------------------- stackexchange
def write_stackexchange(out: Path, plan: Plan, rng: random.Random, truth: Truth) -> None:
    root = out / "stackexchange" / DUMPS["stackexchange"] / "synthetic.stackexchange.com"
    root.mkdir(parents=True, exist_ok=True)
    rows, pid = [], 0

    def row(**a) -> None:
        rows.append("  <row " + " ".join(f"{k}={quoteattr(str(v))}" for k, v in a.items()) + " />")

    def html(rng: random.Random) -> str:
        return (f"<p>{escape(T.paragraph(rng, 2))}</p>\n<pre><code>x = {rng.randrange(99)}\nprint(x)\n</code></pre>\n"
                f"<p>See <a href=\"https://example.org\">the guide</a> and <code>{rng.choice(T.NOUNS)}()</code>.</p>")

    answers_later = []
    for q in range(plan.se_questions):
        pid += 1
        qid = pid
        date = f"2016-0{1 + q % 9}-1{q % 10}T10:00:00.000"
        row(Id=qid, PostTypeId=1, CreationDate=date, Score=rng.randrange(-2, 40), ViewCount=rng.randrange(10, 9999),
            Body=html(rng), OwnerUserId=rng.randrange(1, 500), Title=T.title(rng) + "?",
            Tags="&lt;" + rng.choice(T.NOUNS) + "&gt;", AnswerCount=0)
        for _ in range(rng.randrange(0, 4)):
            answers_later.append((qid, rng.randrange(-3, 25)))
        if q % 4 == 3:  # answers follow their questions in the dump, a few ids later
            for parent, score in answers_later:
                pid += 1
                row(Id=pid, PostTypeId=2, ParentId=parent, CreationDate=date, Score=score, Body=html(rng),
                    OwnerUserId=rng.randrange(1, 500))
            answers_later = []
    for parent, score in answers_later:
        pid += 1
        row(Id=pid, PostTypeId=2, ParentId=parent, CreationDate="2016-12-01T10:00:00.000", Score=score,
            Body=html(rng), OwnerUserId=rng.randrange(1, 500))
    pid += 1
    row(Id=pid, PostTypeId=4, CreationDate="2016-12-02T10:00:00.000", Score=0, Body="<p>Tag wiki excerpt.</p>")
    pid += 1
    row(Id=pid, PostTypeId=2, ParentId=999999, CreationDate="2016-12-03T10:00:00.000", Score=1,
        Body=f"<p>{escape(T.sentence(rng))}</p>")  # an orphan answer (its question was deleted)
    xml = '<?xml version="1.0" encoding="utf-8"?>\n<posts>\n' + "\n".join(rows) + "\n</posts>\n"
    (root / "Posts.xml").write_bytes(xml.encode())
