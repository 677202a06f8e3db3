"""Fixtures of the dataset tests: TF OD API shards as TensorFlow writes them."""

import dataclasses

import pytest

from edgeprune.datasets import read_dataset
from edgeprune.datasets.tfrecord import build_example, format_label_map, label_ids


def renumbered(dataset):
    """``dataset`` with TFRecord label ids (1..N; the digit scenes number their categories from 0)."""
    ids = label_ids(dataset.categories)
    copy = dataset.subset([True] * len(dataset))
    copy.categories = [dataclasses.replace(c, id=ids[c.id]) for c in dataset.categories]
    copy.images = [
        dataclasses.replace(img, boxes=[dataclasses.replace(b, category_id=ids[b.category_id]) for b in img.boxes])
        for img in dataset.images
    ]
    return copy


@pytest.fixture(scope="module")
def sharded(tmp_path_factory, digits_coco):
    """The digit scenes as 3 TF OD API shards train.record-0000i-of-00003 plus label_map.pbtxt."""
    import tensorflow as tf

    coco = renumbered(read_dataset(digits_coco))
    root = tmp_path_factory.mktemp("records")
    names = coco.category_names
    writers = [tf.io.TFRecordWriter(str(root / f"train.record-{i:05d}-of-00003")) for i in range(3)]
    for index, img in enumerate(coco.images):
        writers[index % 3].write(build_example(img, names).SerializeToString())
    for writer in writers:
        writer.close()
    (root / "label_map.pbtxt").write_text(format_label_map(coco.categories))
    return root, coco
