"""Detection data for training: any dataset -> TF OD API TFRecords with contiguous class ids 1..N.

The training label space is TRAIN's category names in sorted-id order, numbered 1..N (0 is background for
Model Garden). VAL is mapped into the same space by name; a VAL category TRAIN never saw is an error.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import logging
from dataclasses import dataclass
from pathlib import Path

from ..datasets import Category, Dataset, invalid_boxes
from ..datasets.tfrecord import format_label_map, write_tfrecord
from ..datasets.types import SOURCE_KEYS
from ..errors import EdgepruneError
from ..images import load_rgb, probe

log = logging.getLogger(__name__)
BACKGROUND = "???"


@dataclass
class LabelSpace:
    """Class names in training order; class id = index + 1."""

    names: list[str]

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> "LabelSpace":
        used = {b.category_id for img in dataset.images for b in img.boxes}
        names = [c.name for c in sorted(dataset.categories, key=lambda c: c.id) if c.id in used]
        if not names:
            raise EdgepruneError(f"{dataset.source}: the training set has no boxes")
        return cls(names)

    def id_of(self, name: str) -> int:
        return self.names.index(name) + 1

    def categories(self) -> list[Category]:
        return [Category(i + 1, name) for i, name in enumerate(self.names)]


def remap(dataset: Dataset, labels: LabelSpace, *, role: str) -> Dataset:
    """A copy of ``dataset`` with category ids in ``labels`` space and degenerate boxes removed."""
    source_names = dataset.category_names
    unknown = sorted({source_names[b.category_id] for img in dataset.images for b in img.boxes} - set(labels.names))
    if unknown:
        raise EdgepruneError(f"{dataset.source}: {role} has categories unknown to TRAIN: {', '.join(unknown)}")
    bad = {id(box) for _, box, reason in invalid_boxes(dataset.images) if reason.startswith("zero area")}
    images = []
    for img in dataset.images:
        clone = copy.copy(img)
        clone.boxes = [
            dataclasses.replace(b, category_id=labels.id_of(source_names[b.category_id]))
            for b in img.boxes
            if id(b) not in bad
        ]
        clone.extra = {k: v for k, v in img.extra.items() if k not in SOURCE_KEYS}
        images.append(clone)
    if bad:
        log.info("%s: skipped %d zero-area boxes", role, len(bad))
    return Dataset(images, labels.categories(), dataset.format, source=dataset.source)


def upright_record(img):
    """``img`` as Model Garden's decoder (``tf.io``) must see it: an image ``tf.io`` would decode differently from
    edgeprune (EXIF-rotated, CMYK, 16-bit, WebP; :func:`edgeprune.images.probe`) is stored as an upright PNG."""
    from PIL import Image

    if probe(img.source, img.file_name).native:
        return img
    pixels = load_rgb(img.source, img.file_name)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    name = Path(img.file_name).with_suffix(".png").as_posix()
    height, width = pixels.shape[:2]
    return dataclasses.replace(
        img, path=None, encoded=buffer.getvalue(), file_name=name, width=width, height=height, digest=None, header=None
    )


def write_records(dataset: Dataset, out_dir: Path, name: str) -> str:
    """Write ``dataset`` as TFRecord shards named ``name.record-*`` in ``out_dir``; returns the glob."""
    dataset = Dataset(
        [upright_record(img) for img in dataset.images], dataset.categories, "coco", source=dataset.source
    )
    write_tfrecord(dataset, out_dir, base=name)
    return str(out_dir / f"{name}.record-*")


def write_label_files(labels: LabelSpace, out_dir: Path) -> None:
    """``label_map.pbtxt`` (TF OD API, ids 1..K) and ``labelmap.txt`` (TFLite runtimes: line i names the exported
    model's output class i, which is label id i + 1)."""
    (out_dir / "label_map.pbtxt").write_text(format_label_map(labels.categories()))
    (out_dir / "labelmap.txt").write_text(labelmap_text(labels.names))


def labelmap_text(names: list[str]) -> str:
    """One name per line, in label id order (the exported models skip background: output class 0 is label id 1)."""
    return "".join(f"{n}\n" for n in names)


def read_labelmap(path: Path) -> "LabelSpace":
    """The label space of a ``labelmap.txt`` written by :func:`write_label_files` (a leading ``???`` background line,
    as older exports wrote, is skipped)."""
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return LabelSpace(names[1:] if names and names[0] == BACKGROUND else names)
