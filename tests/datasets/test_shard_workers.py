import dataclasses
import os

import pytest

from edgeprune.datasets import shard_workers
from edgeprune.datasets.tfrecord import read_tfrecord
from edgeprune.errors import EdgepruneError


def test_workers_read_what_one_process_reads(sharded):
    root, _ = sharded
    alone, parallel = read_tfrecord(root, processes=1), read_tfrecord(root, processes=2)
    assert parallel == alone  # images in shard order with their boxes and refs, categories, extras
    assert [img.digest for img in parallel.images] == [img.digest for img in alone.images]
    assert all(a.header is b.header for a, b in zip(parallel.images, alone.images))  # headers shared again


def test_categories_found_in_shards_without_a_label_map_come_in_shard_order(sharded, tmp_path):
    root, _ = sharded
    for shard in sorted(root.glob("train.record-*")):
        (tmp_path / shard.name).symlink_to(shard)
    alone, parallel = read_tfrecord(tmp_path, processes=1), read_tfrecord(tmp_path, processes=3)
    assert [(c.id, c.name) for c in parallel.categories] == [(c.id, c.name) for c in alone.categories]
    assert parallel == alone


def test_boxes_labelled_by_name_alone_are_numbered_as_one_process_numbers_them(tmp_path):
    """Without ``class/label`` a name gets the next free id in reading order: the workers' reading is replaced by
    one process's."""
    import tensorflow as tf

    from edgeprune.datasets.example_proto import example_class
    from tests.datasets.test_record_frames import jpeg

    for shard, names in enumerate([[b"truck"], [b"bus", b"truck"], [b"bike"]]):
        example = example_class()()
        feature = example.features.feature
        feature["image/encoded"].bytes_list.value.append(jpeg(shard))
        for key, value in (("xmin", 0.1), ("ymin", 0.1), ("xmax", 0.5), ("ymax", 0.5)):
            feature[f"image/object/bbox/{key}"].float_list.value.extend([value] * len(names))
        feature["image/object/class/text"].bytes_list.value.extend(names)
        with tf.io.TFRecordWriter(str(tmp_path / f"named.record-{shard:05d}-of-00003")) as writer:
            writer.write(example.SerializeToString())
    parallel = read_tfrecord(tmp_path, processes=3)
    assert [(c.id, c.name) for c in parallel.categories] == [(1, "truck"), (2, "bus"), (3, "bike")]
    assert [[b.category_id for b in img.boxes] for img in parallel.images] == [[1], [2, 1], [3]]
    assert parallel == read_tfrecord(tmp_path, processes=1)


def test_a_bad_shard_is_named_and_stops_the_workers(sharded, tmp_path):
    root, _ = sharded
    shards = sorted(root.glob("train.record-*"))
    for shard in shards[:2]:
        (tmp_path / shard.name).symlink_to(shard)
    data = shards[2].read_bytes()
    (tmp_path / shards[2].name).write_bytes(data[: len(data) - 100])
    with pytest.raises(EdgepruneError, match=f"{shards[2].name}: corrupt TFRecord \\(record at byte"):
        read_tfrecord(tmp_path, processes=2)


def test_a_worker_that_dies_is_an_error_not_a_short_dataset(sharded, monkeypatch):
    root, _ = sharded
    monkeypatch.setattr(shard_workers, "__name__", "edgeprune.datasets.no_such_module")  # workers fail to start
    with pytest.raises(RuntimeError, match="a TFRecord reading worker stopped: exit code 1: .*No module named"):
        read_tfrecord(root, processes=2)


def test_small_datasets_are_read_in_one_process(sharded, monkeypatch):
    root, _ = sharded
    files = sorted(root.glob("train.record-*"))
    assert shard_workers.worker_count(files) == 1  # a few kB: a worker would cost more than it saves
    monkeypatch.setattr(shard_workers, "PARALLEL_MIN_BYTES", 0)
    assert shard_workers.worker_count(files) == min(3, shard_workers.usable_cores())
    assert shard_workers.worker_count(files[:1]) == 1


def test_records_from_workers_are_as_a_reader_makes_them(sharded):
    root, _ = sharded
    img = read_tfrecord(root, processes=2).images[4]
    assert img.extra["tfrecord_record"] is img.record  # one object, as pickled
    assert dataclasses.replace(img).content() == (img.digest, img.header)


def test_workers_import_this_edgeprune_without_putting_site_packages_first(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    monkeypatch.setattr(shard_workers, "__file__", "/src/checkout/edgeprune/datasets/shard_workers.py")
    assert shard_workers._worker_environment()["PYTHONPATH"].split(os.pathsep) == ["/src/checkout", "/elsewhere"]
    installed = "/venv/lib/python3.11/site-packages/edgeprune/datasets/shard_workers.py"
    monkeypatch.setattr(shard_workers, "__file__", installed)
    assert shard_workers._worker_environment()["PYTHONPATH"] == "/elsewhere"
