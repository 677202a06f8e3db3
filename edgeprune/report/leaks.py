"""The ``leaks`` report: the summary, the similarity histogram with the threshold, and the flagged pairs side by
side, worst first."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from . import plots
from .html import html_table, page, png_tag
from .thumbnails import ThumbnailSheet


def _figure(sheet: ThumbnailSheet, split: str, name: str, record) -> str:
    """One side of a pair: the thumbnail captioned with its split, the file name on hover."""
    read = record.read_bytes if record is not None else (lambda: b"")
    return sheet.figure((split, name), read, state="kept", title=f"{split}: {name}", caption=split)


def render_leak_report(result, splits, similarities: dict[str, np.ndarray], *, max_pairs: int = 200) -> str:
    """The page as an HTML string."""
    records = {name: {img.file_name: img for img in dataset.images} for name, dataset in splits}
    parts = [f"<h1>edgeprune leaks: {html.escape(', '.join(name for name, _ in splits))}</h1>"]
    parts.append("<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in result.lines()) + "</ul>")
    parts.append(
        html_table(
            ["split", "images", "near-copies", "exact copies", "compared with", "max / p95 / median similarity"],
            [
                [
                    s,
                    c["images"],
                    c["flagged"],
                    c["exact"],
                    c["against"],
                    " / ".join(map(str, c["nearest_similarity"].values())),
                ]
                for s, c in result.per_split.items()
            ],
        )
    )
    parts.append(
        f"<p>Backbone: {html.escape(result.backbone)}. Threshold: cosine similarity &ge; {result.threshold:g} to the "
        "nearest image of an earlier split (embeddings centred over all compared images, L2-normalised); identical "
        "file bytes are always flagged.</p>"
    )
    if any(len(v) for v in similarities.values()):
        parts.append("<h2>Nearest-neighbour similarity</h2>")
        parts.append(png_tag(plots.similarity_histogram(similarities, result.threshold), "similarity histogram"))
    shown = result.leaks[:max_pairs]
    parts.append(f"<h2>Flagged pairs, most similar first ({len(shown)} of {len(result.leaks)} shown)</h2>")
    if len(shown) < len(result.leaks):
        parts.append(f"<p>{len(result.leaks) - len(shown)} more pairs are listed in leaks.csv.</p>")
    rows = []
    sheet = ThumbnailSheet()
    for leak in shown:
        left = _figure(sheet, leak.split, leak.image, records[leak.split].get(leak.image))
        right = _figure(sheet, leak.nearest_split, leak.nearest, records[leak.nearest_split].get(leak.nearest))
        kind = "exact copy" if leak.exact else f"cosine {leak.similarity:.4f}"
        rows.append(
            f'<div class="pair"><div class="grid">{left}{right}</div><div>{html.escape(leak.image)} '
            f"&harr; {html.escape(leak.nearest)}<br>{kind}</div></div>"
        )
    parts.append('<div class="pairs">' + "".join(rows) + "</div>" if rows else "<p>No leaks found.</p>")
    pair_style = (
        ".pairs{display:flex;flex-wrap:wrap;gap:12px}.pair{font-size:11px;max-width:170px;overflow-wrap:anywhere}"
    )
    return page(f"edgeprune leaks ({result.flagged} flagged)", parts, pair_style + sheet.style())


def write_leak_report(path: Path, result, splits, similarities, *, max_pairs: int = 200) -> Path:
    """Write the page to ``path``."""
    path.write_text(render_leak_report(result, splits, similarities, max_pairs=max_pairs), encoding="utf-8")
    return path
