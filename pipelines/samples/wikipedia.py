"""Writer of the Wikipedia dumps: MediaWiki XML .bz2 per language, articles citing the reference-style
CommonCrawl pages, plus a redirect and a talk page the reader must skip."""
from __future__ import annotations

import bz2
import hashlib
import random
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from pipelines.document import doc_id
from pipelines.samples import text as T
from pipelines.samples.common import DUMPS, Plan, Truth, reference_sentence

# ----------------------------------------------------------------------------------------- wiki
WIKI_HEADINGS = {"en": ("History", "Geography"), "de": ("Geschichte", "Geographie"), "fr": ("Histoire", "Géographie"),
                 "ru": ("История", "География"), "ja": ("歴史", "地理")}
WIKI_WORDS = {  # localized namespace words: category, file, redirect, talk
    "en": ("Category", "File", "#REDIRECT", "Talk"), "de": ("Kategorie", "Datei", "#WEITERLEITUNG", "Diskussion"),
    "fr": ("Catégorie", "Fichier", "#REDIRECTION", "Discussion"), "ru": ("Категория", "Файл", "#ПЕРЕНАПРАВЛЕНИЕ", "Обсуждение"),
    "ja": ("Category", "ファイル", "#転送", "ノート"),
}


def wikitext(lang: str, title: str, rng: random.Random, cites: list[str] = ()) -> str:
    """A generated article; it cites `cites` (the first in a <ref>, the rest as external links), or an
    uncrawled example.org page when there are none."""
    cat, file_, _, _ = WIKI_WORDS[lang]
    body = T.english(rng, 3) if lang == "en" else T.foreign(lang, rng, 3, 3)
    paras = body.split("\n\n")
    if lang == "en":  # an article states a record or a figure, as the pages it cites do
        paras[0] = f"{reference_sentence(rng)} {paras[0]}"
    words = paras[0].split(" ")
    if len(words) > 6:  # a piped link and a plain link inside the prose
        words[3] = f"[[{words[3].strip('.,')}|{words[3]}]]"
        words[5] = f"[[{words[5]}]]"
    first = " ".join(words)
    ref_url = cites[0] if cites else f"https://example.org/{rng.randrange(999)}"
    links = "".join(f"* [{u} {T.title(rng)}]\n" for u in cites[1:])
    links = f"\n== Weblinks ==\n{links}" if links else ""
    return (f"{{{{Infobox Ort\n| Name = {title}\n| Einwohner = {rng.randrange(1000, 90000)}\n}}}}\n"
            f"'''{title}''' {first}<ref>{{{{cite web|url={ref_url}|title=Quelle}}}}</ref>\n\n"
            f"[[{file_}:Example {rng.randrange(99)}.jpg|thumb|{title}]]\n"
            f"== {WIKI_HEADINGS[lang][0]} ==\n{paras[1]} <!-- a hidden editor comment -->\n\n"
            f"{{| class=\"wikitable\"\n|-\n! A !! B\n|-\n| {rng.randrange(99)} || {rng.randrange(99)}\n|}}\n\n"
            f"=== ''{WIKI_HEADINGS[lang][1]}'' ===\n{paras[2]}\n{links}\n[[{cat}:{title}]]\n")


def write_wikipedia(out: Path, plan: Plan, rng: random.Random, truth: Truth) -> None:
    root = out / "wikipedia" / DUMPS["wikipedia"]
    root.mkdir(parents=True, exist_ok=True)
    # The generated articles in the 20 languages share the URLs of the cited CC pages between them.
    citing = sum(n for lang, n in plan.wiki_pages.items() if lang != "ja")
    urls, k = truth.urls_to_cite, 0
    for lang in sorted(plan.wiki_pages):
        cat, _, redirect, talk = WIKI_WORDS[lang]
        files: dict[str, list] = {}
        pid = 100
        for i in range(plan.wiki_pages[lang]):
            # Large dumps come in several files, as Wikimedia splits them (records_per_file pages each).
            part = i // plan.records_per_file
            name = f"{lang}wiki-20220701-pages-articles{part + 1 if part else ''}-sample.xml.bz2"
            pages = files.setdefault(name, [])
            pid += 1
            title = f"{rng.choice(T.PLACES)} {i + 1}"
            cites = urls[k::citing] if lang != "ja" else []
            k += lang != "ja"
            pages.append((pid, 0, title, wikitext(lang, title, rng, cites), None))
            if lang != "en":
                truth.languages[doc_id("wikipedia", f"{DUMPS['wikipedia']}/{name}#{pid}")] = lang
            if lang == "ja":
                truth.wiki_other_language.append(doc_id("wikipedia", f"{DUMPS['wikipedia']}/{name}#{pid}"))
            if i == 0:  # a redirect and a talk page, which the reader skips with a reason
                pid += 1
                pages.append((pid, 0, title + " (alt)", f"{redirect} [[{title}]]", title))
                pid += 1
                pages.append((pid, 1, f"{talk}:{title}", T.foreign(lang, rng, 1, 2) if lang != "en"
                              else T.english(rng, 1), None))
        for name, pages in files.items():
            _write_wiki_file(root / name, lang, pages)


def _write_wiki_file(path: Path, lang: str, pages: list) -> None:
    cat, _, _, talk = WIKI_WORDS[lang]
    xml = [f'<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" version="0.10" xml:lang="{lang}">\n'
           f"  <siteinfo>\n    <sitename>Wikipedia</sitename>\n    <dbname>{lang}wiki</dbname>\n"
           f"    <base>https://{lang}.wikipedia.org/wiki/</base>\n    <generator>MediaWiki 1.39.0-wmf.18</generator>\n"
           f'    <case>first-letter</case>\n    <namespaces>\n      <namespace key="0" case="first-letter" />\n'
           f'      <namespace key="1" case="first-letter">{talk}</namespace>\n'
           f'      <namespace key="14" case="first-letter">{cat}</namespace>\n    </namespaces>\n  </siteinfo>\n']
    for pid, ns, title, text, target in pages:
        red = f"    <redirect title={quoteattr(target)} />\n" if target else ""
        body = text.encode()
        xml.append(f"  <page>\n    <title>{escape(title)}</title>\n    <ns>{ns}</ns>\n    <id>{pid}</id>\n{red}"
                   f"    <revision>\n      <id>{pid * 10}</id>\n      <timestamp>2022-06-{1 + pid % 28:02d}T12:00:00Z</timestamp>\n"
                   f"      <contributor>\n        <username>SampleBot</username>\n        <id>1</id>\n      </contributor>\n"
                   f"      <model>wikitext</model>\n      <format>text/x-wiki</format>\n"
                   f'      <text bytes="{len(body)}" xml:space="preserve">{escape(text)}</text>\n'
                   f"      <sha1>{hashlib.sha1(body).hexdigest()}</sha1>\n    </revision>\n  </page>\n")
    xml.append("</mediawiki>\n")
    path.write_bytes(bz2.compress("".join(xml).encode(), 9))
