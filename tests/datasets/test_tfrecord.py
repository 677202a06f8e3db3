import dataclasses

import numpy as np
import pytest

from edgeprune.cli import main
from edgeprune.datasets import read_dataset, write_dataset
from edgeprune.datasets.tfrecord import (
    build_example,
    format_label_map,
    parse_label_map,
    read_tfrecord,
    write_tfrecord,
)
from edgeprune.datasets.types import Category
from edgeprune.errors import EdgepruneError
from tests.conftest import assert_same_dataset
from tests.datasets.conftest import renumbered


def test_reads_shards_dir_and_glob(sharded):
    root, coco = sharded
    from_dir = read_dataset(root)
    from_glob = read_dataset(str(root / "train.record-*"))
    assert from_dir.format == from_glob.format == "tfrecord"
    assert len(from_dir) == len(from_glob) == len(coco)
    assert from_dir.extra["shards"] == [f"train.record-{i:05d}-of-00003" for i in range(3)]


def test_matches_the_coco_source(sharded):
    root, coco = sharded
    records = read_tfrecord(root)
    assert_same_dataset(coco, records)


def test_holds_offsets_not_bytes_and_reads_each_image_by_seeking(sharded):
    import tensorflow as tf

    root, coco = sharded
    records = read_tfrecord(root)
    assert all(img.encoded is None and img.path is None and img.record is not None for img in records.images)
    for img in records.images[::7]:
        raws = list(tf.data.TFRecordDataset(img.record.file).as_numpy_iterator())
        assert img.record.read() in raws  # the exact serialised example, by offset
    by_name = {img.file_name: img for img in coco.images}
    assert all(img.read_bytes() == by_name[img.file_name].read_bytes() for img in records.images)


def test_reading_remembers_each_images_hash_and_header_so_embedding_reads_no_example_again(sharded, monkeypatch):
    from edgeprune.datasets.types import ImageRecord
    from edgeprune.images import content_hash, probe

    root, _ = sharded
    records = read_tfrecord(root)
    expected = [(content_hash(img.read_bytes()), probe(img.read_bytes())) for img in records.images]
    monkeypatch.setattr(ImageRecord, "read_bytes", lambda self: pytest.fail(f"{self.file_name} read again"))
    assert [img.content() for img in records.images] == expected


def test_image_that_is_not_its_stated_size_is_warned_about(tmp_path, digits_coco, caplog):
    import tensorflow as tf

    img = read_dataset(digits_coco).images[0]
    wrong = dataclasses.replace(img, width=img.width * 2)
    names = read_dataset(digits_coco).category_names
    with tf.io.TFRecordWriter(str(tmp_path / "one.record")) as writer:
        writer.write(build_example(wrong, names).SerializeToString())
    with caplog.at_level("WARNING"):
        read_tfrecord(tmp_path / "one.record")
    assert "not the size their annotations give" in caplog.text and img.file_name in caplog.text


def test_pruned_write_copies_record_bytes_and_shards_like_input(tmp_path, sharded):
    root, _ = sharded
    dataset = read_tfrecord(root)
    mask = [i % 2 == 0 for i in range(len(dataset))]
    write_dataset(dataset.subset(mask), tmp_path / "out")
    paths = sorted((tmp_path / "out").glob("train.record*"))
    assert [p.name for p in paths] == dataset.extra["shards"]
    again = read_tfrecord(tmp_path / "out")
    kept = [img for img, m in zip(dataset.images, mask) if m]
    raws = sorted(i.extra["tfrecord_record"].read() for i in again.images)
    assert raws == sorted(i.extra["tfrecord_record"].read() for i in kept)
    assert_same_dataset(dataset.subset(mask), again)


@pytest.mark.parametrize("kernel_copy", [True, False])
def test_a_pruned_shard_is_its_kept_frames_byte_for_byte(tmp_path, sharded, monkeypatch, kernel_copy):
    import errno
    import os

    import tensorflow as tf

    if not kernel_copy:  # as between two file systems an old kernel cannot copy across

        def refuse(*_):
            raise OSError(errno.EXDEV, "Invalid cross-device link")

        monkeypatch.setattr(os, "copy_file_range", refuse, raising=False)
    root, _ = sharded
    dataset = read_tfrecord(root)
    mask = [i % 3 != 1 for i in range(len(dataset))]
    write_dataset(dataset.subset(mask), tmp_path / "out")
    for shard, name in enumerate(dataset.extra["shards"]):
        kept = [img.record for img, m in zip(dataset.images, mask) if m and img.extra["tfrecord_shard"] == shard]
        source = (root / name).read_bytes()
        frames = b"".join(source[r.offset : r.offset + 16 + r.length] for r in kept)
        assert (tmp_path / "out" / name).read_bytes() == frames
        records = list(tf.data.TFRecordDataset(str(tmp_path / "out" / name)))  # the checksums hold
        assert len(records) == len(kept)
    from official.vision.dataloaders.tf_example_decoder import TfExampleDecoder

    decoded = TfExampleDecoder().decode(records[-1])  # what Model Garden trains on
    last = [img for img, m in zip(dataset.images, mask) if m and img.extra["tfrecord_shard"] == shard][-1]
    assert decoded["groundtruth_classes"].numpy().tolist() == [b.category_id for b in last.boxes]
    assert decoded["image"].shape[:2] == (last.height, last.width)


def test_a_shard_that_also_gets_new_records_is_written_by_tensorflow(tmp_path, sharded, digits_coco):
    import tensorflow as tf

    root, coco = sharded
    dataset = read_tfrecord(root)
    stranger = dataclasses.replace(renumbered(coco).images[0], id="stranger", file_name="stranger.jpg")
    dataset.images.append(stranger)  # no source record: encoded anew into the last shard
    write_dataset(dataset, tmp_path / "out")
    again = read_tfrecord(tmp_path / "out")
    assert len(again) == len(dataset) and "stranger.jpg" in {img.file_name for img in again.images}
    last = tmp_path / "out" / dataset.extra["shards"][-1]
    assert (
        len(list(tf.data.TFRecordDataset(str(last))))
        == sum(img.extra.get("tfrecord_shard") == 2 for img in dataset.images) + 1
    )


def test_round_trip_through_write_tfrecord_from_coco(tmp_path, digits_coco):
    coco = read_dataset(digits_coco)
    paths = write_tfrecord(coco, tmp_path / "rec", base="train")
    assert [p.name for p in paths] == ["train.record-00000-of-00001"]
    assert_same_dataset(renumbered(coco), read_dataset(tmp_path / "rec"))


def test_model_garden_decoder_reads_coco_numbered_from_zero_as_1_to_n(tmp_path, digits_coco):
    """Category id 0 would be background to Model Garden and the TF OD API: records carry 1..N, names kept."""
    import tensorflow as tf
    from official.vision.dataloaders.tf_example_decoder import TfExampleDecoder

    coco = read_dataset(digits_coco)
    assert min(c.id for c in coco.categories) == 0
    write_tfrecord(coco, tmp_path / "rec", base="train")
    label_map = parse_label_map(tmp_path / "rec" / "label_map.pbtxt")
    assert [(c.id, c.name) for c in label_map] == [(i + 1, str(i)) for i in range(10)]
    decoder = TfExampleDecoder()
    records = tf.data.TFRecordDataset(str(tmp_path / "rec" / "train.record-00000-of-00001"))
    for img, raw in zip(coco.images, records):
        decoded = decoder.decode(raw)
        assert decoded["groundtruth_classes"].numpy().tolist() == [b.category_id + 1 for b in img.boxes]
        assert (decoded["groundtruth_classes"].numpy() >= 1).all()
        boxes = decoded["groundtruth_boxes"].numpy()  # ymin, xmin, ymax, xmax normalised
        expected = [
            [
                b.bbox[1] / img.height,
                b.bbox[0] / img.width,
                (b.bbox[1] + b.bbox[3]) / img.height,
                (b.bbox[0] + b.bbox[2]) / img.width,
            ]
            for b in img.boxes
        ]
        assert boxes.shape == (len(img.boxes), 4) and np.allclose(boxes, expected, atol=1e-6)


def test_label_map_round_trip_with_display_names(tmp_path):
    categories = [Category(1, "rbc", None, {"display_name": "Red cell"}), Category(2, "wbc")]
    path = tmp_path / "label_map.pbtxt"
    path.write_text(format_label_map(categories))
    assert parse_label_map(path) == categories
    path.write_text('item {\n  name: "cat"\n}\n')
    with pytest.raises(EdgepruneError, match="without id"):
        parse_label_map(path)
    path.write_text("item { id: 1 name: 'a' \n")
    with pytest.raises(EdgepruneError, match=r"label_map.pbtxt: not a label map \(1:20 : Expected"):
        parse_label_map(path)


def test_label_map_as_the_tf_od_api_writes_it(tmp_path):
    """Comments, both quote styles, escaped quotes, braces inside names and fields edgeprune does not use."""
    path = tmp_path / "label_map.pbtxt"
    path.write_text(
        "# exported by the TF OD API\n"
        'item {\n  name: "/m/01g317"  # a comment\n  id: 1\n  display_name: "person {adult}"\n'
        '  keypoints { id: 0 label: "nose" }\n  frequency: FREQUENT\n}\n'
        "item { id: 2 name: 'it\\'s' }\n"
    )
    categories = parse_label_map(path)
    assert [(c.id, c.name, c.extra.get("display_name")) for c in categories] == [
        (1, "/m/01g317", "person {adult}"),
        (2, "it's", None),
    ]
    path.write_text(format_label_map(categories))
    assert parse_label_map(path) == categories


def test_reads_records_built_by_model_garden(tmp_path, digits_coco):
    """Records from Model Garden's own ``TfExampleBuilder`` (the COCO-to-TFRecord tooling it ships)."""
    import tensorflow as tf
    from official.vision.data.tf_example_builder import TfExampleBuilder

    coco = read_dataset(digits_coco)
    images = coco.images[:5]
    with tf.io.TFRecordWriter(str(tmp_path / "mg.record")) as writer:
        for img in images:
            builder = TfExampleBuilder()
            builder.add_encoded_image_feature(img.read_bytes(), "jpeg", img.height, img.width)
            builder.add_boxes_feature(
                xmins=[b.bbox[0] / img.width for b in img.boxes],
                xmaxs=[(b.bbox[0] + b.bbox[2]) / img.width for b in img.boxes],
                ymins=[b.bbox[1] / img.height for b in img.boxes],
                ymaxs=[(b.bbox[1] + b.bbox[3]) / img.height for b in img.boxes],
                labels=[b.category_id + 1 for b in img.boxes],
            )
            writer.write(builder.example.SerializeToString())
    records = read_dataset(tmp_path / "mg.record")
    assert len(records) == 5
    for img, record in zip(images, records.images):
        assert [b.category_id for b in record.boxes] == [b.category_id + 1 for b in img.boxes]
        np.testing.assert_allclose([b.bbox for b in record.boxes], [b.bbox for b in img.boxes], atol=1e-3)


def test_corrupt_record_file_is_named(tmp_path, sharded):
    root, _ = sharded
    data = (root / "train.record-00000-of-00003").read_bytes()
    broken = tmp_path / "broken.record"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(EdgepruneError, match="broken.record: corrupt TFRecord"):
        read_dataset(broken)


def test_record_that_is_not_an_example(tmp_path):
    import tensorflow as tf

    path = tmp_path / "junk.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        writer.write(b"\xff\xfe not a protobuf")
    with pytest.raises(EdgepruneError, match="junk.tfrecord: record 0"):
        read_dataset(path)


def test_records_to_coco_keep_source_ids_and_leak_no_internal_keys(tmp_path, sharded):
    from pycocotools.coco import COCO

    root, _ = sharded
    assert main(["-q", "convert", str(root), "--out", str(tmp_path / "coco"), "--out-format", "coco"]) == 0
    coco = COCO(str(tmp_path / "coco" / "annotations.json"))
    assert all(set(img) == {"id", "file_name", "width", "height"} for img in coco.dataset["images"])
    assert [c["id"] for c in coco.dataset["categories"]] == list(range(1, 11))
    source = read_dataset(root)
    assert sorted(img["id"] for img in coco.dataset["images"]) == sorted(int(img.id) for img in source.images)
