"""Image decoding rules, in one place, for every part of edgeprune that reads pixels.

The convention: **pixels are the image as a viewer shows it**, i.e. with its EXIF orientation applied. That is the
frame labelling tools (CVAT, Label Studio, Roboflow) draw boxes in, so boxes, crops, embeddings, pretraining,
training records, evaluation, calibration and report thumbnails all use it.

- :func:`probe` reads only the header: the displayed size, the EXIF orientation, and whether TensorFlow's own
  decoders give the right pixels unaided ("native": an upright 8-bit JPEG, PNG, GIF or BMP). The fast
  ``tf.data`` paths (:mod:`edgeprune.embed.images`) decode native images with ``tf.io`` and the rest with
  :func:`load_rgb`.
- :func:`load_rgb` decodes anything Pillow reads (CMYK JPEG, 16-bit PNG, palette and alpha images, WebP, TIFF) to
  upright 8-bit RGB.
- A decompression bomb, a truncated file or something that is not an image raises :class:`EdgepruneError` naming
  the image and the reason, never a traceback.
"""

from __future__ import annotations

import functools
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import EdgepruneError

ORIENTATION_TAG = 0x0112
NATIVE_FORMATS = {
    "JPEG": ("RGB", "L"),
    "PNG": ("RGB", "L", "RGBA", "LA", "P"),
    "GIF": ("P", "L", "RGB"),
    "BMP": ("RGB", "L", "P"),
}


@dataclass(frozen=True)
class ImageInfo:
    """Header facts: the size as displayed, the EXIF orientation (1 = upright) and whether ``tf.io`` decodes it."""

    width: int
    height: int
    orientation: int
    native: bool

    def __reduce__(self):
        """Unpickled through :func:`shared_info`, so headers sent by another process are shared again."""
        return shared_info, (self.width, self.height, self.orientation, self.native)


@functools.lru_cache(maxsize=4096)
def shared_info(width: int, height: int, orientation: int, native: bool) -> ImageInfo:
    """One :class:`ImageInfo` per distinct header, shared: a million frames of one camera hold a handful."""
    return ImageInfo(width, height, orientation, native)


def content_hash(data: bytes) -> str:
    """An image's identity for caches and exact-copy checks: a 128-bit BLAKE2b digest of its encoded bytes."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _open(source: Path | bytes):
    from PIL import Image

    return Image.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source)


def _errors():
    from PIL import Image, UnidentifiedImageError

    return (Image.DecompressionBombError, UnidentifiedImageError, OSError, SyntaxError, ValueError)


def probe(source: Path | bytes, name: str | None = None) -> ImageInfo:
    """Read the header of an image file or of encoded bytes."""
    try:
        with _open(source) as im:
            orientation = int(im.getexif().get(ORIENTATION_TAG, 1) or 1)
            width, height = im.size
            native = im.format in NATIVE_FORMATS and im.mode in NATIVE_FORMATS[im.format] and orientation == 1
    except _errors() as exc:
        raise EdgepruneError(f"{name or source}: not a readable image ({_reason(exc)})") from None
    if orientation in (5, 6, 7, 8):  # rotated by 90 degrees: the displayed image is transposed
        width, height = height, width
    return shared_info(width, height, orientation if 1 <= orientation <= 8 else 1, native)


def load_rgb(source: Path | bytes, name: str | None = None) -> np.ndarray:
    """Decode to an upright ``uint8`` array ``[H, W, 3]`` (EXIF orientation applied; CMYK, 16-bit, palette and alpha
    images converted; alpha dropped)."""
    from PIL import ImageOps

    try:
        with _open(source) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                wide = np.asarray(im, dtype=np.float64)
                peak = 65535.0 if wide.max(initial=0) > 255 else 255.0
                pixels = np.clip(wide * (255.0 / peak), 0, 255).astype(np.uint8)
                return np.repeat(pixels[..., None], 3, axis=2)
            return np.asarray(im.convert("RGB"))
    except _errors() as exc:
        raise EdgepruneError(f"{name or source}: cannot decode image ({_reason(exc)})") from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0]}" if text else exc.__class__.__name__


def describe(source: Path | bytes, index: int) -> str:
    """How an image is named in a message when the caller has no file name."""
    return str(source) if not isinstance(source, (bytes, bytearray)) else f"image #{index}"
