"""Report pages: an HTML file with tables and matplotlib PNGs beside it, and markdown for the Dagster UI.

    from llama_model.eval.report import Section, bar_chart, write_report
    png = bar_chart(out / "ppl.png", ["c4", "books"], {"init": [2048, 2050], "base_model": [310, 280]}, "Perplexity")
    write_report(out / "index.html", "base_model_eval", [Section("Perplexity", rows, images=[png])])

Everything is written atomically and deterministically (no timestamps in the PNGs).
"""
from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # no display: reports are written by workers and tests
import matplotlib.pyplot as plt  # noqa: E402

from common.io import atomic_path, write_text  # noqa: E402

_PNG_META = {"Software": None}  # keeps the PNG bytes identical across matplotlib patch versions


def fmt(v, digits: int = 3) -> str:
    """Table cell text: floats with `digits` decimals (general format when very large or small), NaN as –."""
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        if v != 0 and (abs(v) >= 1e5 or abs(v) < 10 ** -digits):
            return f"{v:.{digits}g}"
        return f"{v:.{digits}f}"
    return str(v)


def columns_of(rows: Sequence[Mapping]) -> list[str]:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    return cols


def markdown_table(rows: Sequence[Mapping], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return "_(no rows)_"
    cols = list(columns or columns_of(rows))
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def html_table(rows: Sequence[Mapping], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return "<p><em>(no rows)</em></p>"
    cols = list(columns or columns_of(rows))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(fmt(r.get(c, '')))}</td>" for c in cols) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _save(fig, path: Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight", metadata=_PNG_META)
    plt.close(fig)
    return path


def bar_chart(path: str | Path, categories: Sequence[str], series: Mapping[str, Sequence[float]], title: str,
              ylabel: str = "", hline: float | None = None, log: bool = False) -> Path:
    """Grouped bars: one group per category, one bar per series (the versions side by side)."""
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(categories) * max(1, len(series)) / 2 + 3), 3.6))
    width = 0.8 / max(1, len(series))
    for k, (name, values) in enumerate(series.items()):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(categories))]
        ax.bar(xs, [0 if (v is None or math.isnan(v)) else v for v in values], width, label=name)
    ax.set_xticks(range(len(categories)), list(categories), rotation=20 if len(categories) > 4 else 0)
    if hline is not None:
        ax.axhline(hline, color="black", linestyle="--", linewidth=1)
    if log:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, Path(path))


def coincident_groups(points: Mapping[str, tuple[float, float]], digits: int = 3) -> list[tuple[list[str], float, float]]:
    """Points equal to `digits` decimals on both axes merged into one ([labels], x, y), in first-seen order."""
    groups: dict[tuple[float, float], tuple[list[str], float, float]] = {}
    for label, (x, y) in points.items():
        groups.setdefault((round(x, digits), round(y, digits)), ([], x, y))[0].append(label)
    return list(groups.values())


def scatter_chart(path: str | Path, points: Mapping[str, tuple[float, float]], title: str, xlabel: str,
                  ylabel: str, ref: float | None = 0.5) -> Path:
    """Llama 2 Fig. 11: one point per version (helpfulness vs harmlessness win rate), in order.

    Readable for any number of versions: points are numbered and joined in version order, the names are in
    the legend (never on the plot, where they overlapped), versions at the same spot share one marker and
    one legend entry ("rlhf_v1 = rlhf_v2"), and the axes zoom to the points (with the 0.5 line in view)."""
    groups = coincident_groups(points)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    if len(points) > 1:
        xs, ys = zip(*points.values())
        ax.plot(xs, ys, color="lightgrey", linewidth=1, zorder=1)
    cmap = plt.get_cmap("tab10")       # dark enough for the white number on every marker
    for k, (labels, x, y) in enumerate(groups):
        ax.scatter([x], [y], s=160, color=cmap(k % 10), edgecolor="black", zorder=2,
                   label=f"{k + 1}: " + " = ".join(labels) + f"  ({x:.3f}, {y:.3f})")
        ax.annotate(str(k + 1), (x, y), ha="center", va="center", fontsize=7, color="white", weight="bold", zorder=3)
    if ref is not None:
        ax.axhline(ref, color="grey", linestyle="--", linewidth=1)
        ax.axvline(ref, color="grey", linestyle="--", linewidth=1)
    vals_x = [g[1] for g in groups] + ([ref] if ref is not None else [])
    vals_y = [g[2] for g in groups] + ([ref] if ref is not None else [])
    for setter, vals in ((ax.set_xlim, vals_x), (ax.set_ylim, vals_y)):
        lo, hi = min(vals), max(vals)
        pad = max(0.02, 0.15 * (hi - lo))
        setter(max(0.0, lo - pad), min(1.0, hi + pad))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), markerscale=0.5)
    return _save(fig, Path(path))


def line_chart(path: str | Path, xs: Sequence[str], series: Mapping[str, Sequence[float]], title: str,
               ylabel: str = "") -> Path:
    """One line per series over ordered categories (versions)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for name, values in series.items():
        ax.plot(list(xs), list(values), marker="o", label=name)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, Path(path))


def png_markdown(path: str | Path, alt: str = "plot") -> str:
    """Markdown embedding the PNG as a data URI: the Dagster UI renders it in the asset's metadata."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"![{alt}](data:image/png;base64,{data})"


@dataclass
class Section:
    heading: str
    rows: Sequence[Mapping] = ()
    columns: Sequence[str] | None = None
    images: Sequence[Path] = field(default_factory=list)
    text: str = ""


_CSS = ("body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}"
        "td:first-child,th:first-child{text-align:left}img{max-width:100%;margin:0.5em 0}")


def write_report(path: str | Path, title: str, sections: Sequence[Section], intro: str = "") -> Path:
    """One self-contained HTML page; images are referenced by name, so keep them in the same folder."""
    path = Path(path)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    if intro:
        parts.append(f"<p>{html.escape(intro)}</p>")
    for s in sections:
        parts.append(f"<h2>{html.escape(s.heading)}</h2>")
        if s.text:
            parts.append(f"<p>{html.escape(s.text)}</p>")
        if s.rows:
            parts.append(html_table(s.rows, s.columns))
        for img in s.images:
            rel = Path(img).name if Path(img).parent == path.parent else str(img)
            parts.append(f"<img src='{html.escape(rel)}' alt='{html.escape(Path(img).stem)}'>")
    parts.append("</body></html>\n")
    return write_text(path, "\n".join(parts))
