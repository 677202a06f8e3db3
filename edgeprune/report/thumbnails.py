"""Thumbnails for the report pages: each image (or crop) encoded once as a small JPEG, shown anywhere by CSS class.

A page that shows an image in its cluster grid and again in a near-duplicate strip carries its bytes once: every
thumbnail is one CSS rule ``.tN{background-image:url(data:image/jpeg;base64,...)}`` and each place it appears is
an empty ``<i class="th tN">``. The page stays one self-contained file, and its size grows with the number of
thumbnails shown (which every section bounds), never with the dataset.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Callable, Hashable

import numpy as np

from ..errors import EdgepruneError
from ..images import load_rgb

THUMB_SIZE = 72
JPEG_QUALITY = 75
THUMB_STYLE = (
    f".th{{display:block;width:{THUMB_SIZE}px;height:{THUMB_SIZE}px;background:#ddd center/cover no-repeat}}"
    ".th.none{background:repeating-linear-gradient(45deg,#ddd,#ddd 6px,#eee 6px,#eee 12px)}"
    f"figcaption{{max-width:{THUMB_SIZE}px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}}"
)


def thumbnail_jpeg(data: bytes, region: np.ndarray | None = None) -> str:
    """A base64 JPEG thumbnail of an image, or of the ``region`` (x1, y1, x2, y2 pixels) cut from it; "" when the
    image cannot be decoded."""
    from PIL import Image

    try:
        im = Image.fromarray(load_rgb(data))  # upright, as boxes and crops are
    except EdgepruneError:
        return ""
    if region is not None:
        im = im.crop(tuple(int(round(v)) for v in region))
    im.thumbnail((THUMB_SIZE, THUMB_SIZE))
    buffer = io.BytesIO()
    im.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return base64.b64encode(buffer.getvalue()).decode()


class ThumbnailSheet:
    """The thumbnails of one page: :meth:`figure` places one, :meth:`style` holds each one's bytes once."""

    def __init__(self) -> None:
        self._classes: dict[Hashable, str] = {}
        self._rules: list[str] = []

    def __len__(self) -> int:
        return len(self._rules)

    def css_class(self, key: Hashable, read: Callable[[], bytes], region: np.ndarray | None = None) -> str:
        """The CSS class of ``key``'s thumbnail, encoding it (from ``read()``) the first time it is asked for."""
        if key not in self._classes:
            data = thumbnail_jpeg(read(), region)
            if not data:
                self._classes[key] = "none"
            else:
                name = f"t{len(self._rules)}"
                self._rules.append(f'.{name}{{background-image:url("data:image/jpeg;base64,{data}")}}')
                self._classes[key] = name
        return self._classes[key]

    def figure(
        self,
        key: Hashable,
        read: Callable[[], bytes],
        *,
        state: str,
        title: str,
        caption: str,
        region: np.ndarray | None = None,
    ) -> str:
        """A ``<figure>`` with the thumbnail, bordered by ``state`` (kept/dropped), ``title`` on hover."""
        css = self.css_class(key, read, region)
        return (
            f'<figure class="{state}" title="{html.escape(title)}"><i class="th {css}"></i>'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        )

    def style(self) -> str:
        """The CSS: the thumbnail box and one rule per thumbnail."""
        return THUMB_STYLE + "".join(self._rules)
