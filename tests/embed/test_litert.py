"""``--embed-runtime litert|litert-int8``: the backbone converted once and run by the LiteRT interpreter. Float32
must give TensorFlow's embeddings; int8 must keep its neighbourhoods or refuse; both go through the cache."""

import csv
import json

import numpy as np
import pytest

from edgeprune.cli import main
from edgeprune.datasets import read_dataset
from edgeprune.embed import litert, load_backbone
from edgeprune.embed.images import image_batches, image_source
from edgeprune.embed.litert import litert_backbone, neighbour_agreement
from edgeprune.errors import EdgepruneError


@pytest.fixture(scope="module")
def images(digits_coco):
    dataset = read_dataset(digits_coco)
    data = image_batches([image_source(img) for img in dataset.images], image_size=64, batch_size=256)
    return dataset, np.concatenate([batch.numpy() for batch in data])


def test_float32_gives_tensorflows_embeddings_and_is_cached(tiny_backbone, images, tmp_path):
    dataset, pixels = images
    backbone = load_backbone(tiny_backbone, image_size=64)
    converted = litert_backbone(backbone, "litert", dataset, tmp_path)
    assert converted.model_path.parent == tmp_path / "litert" and converted.agreement is None
    np.testing.assert_allclose(converted.embed_padded(pixels, 16), backbone.embed_padded(pixels, 16), atol=1e-5)
    assert converted.embed_padded(pixels[:5], 16).shape == (5, 16)  # the last batch padded, then cut
    converted.interpreters = 2  # two interpreters, each on half of every batch
    np.testing.assert_allclose(converted.embed_padded(pixels, 15), backbone.embed_padded(pixels, 16), atol=1e-5)
    assert converted.key != backbone.key  # its embeddings are cached apart from TensorFlow's
    written = converted.model_path.stat().st_mtime_ns
    again = litert_backbone(backbone, "litert", dataset, tmp_path)
    assert again.model_path == converted.model_path and again.model_path.stat().st_mtime_ns == written


def test_int8_is_calibrated_on_the_dataset_and_checked(tiny_backbone, images, tmp_path, monkeypatch):
    dataset, pixels = images
    backbone = load_backbone(tiny_backbone, image_size=64)
    monkeypatch.setattr(litert, "MIN_AGREEMENT", 0.5)
    converted = litert_backbone(backbone, "litert-int8", dataset, tmp_path)
    reference, quantized = backbone.embed_padded(pixels, 32), converted.embed_padded(pixels, 32)
    assert not np.allclose(reference, quantized, atol=1e-6)  # int8 moved them
    cosine = (reference * quantized).sum(1) / np.linalg.norm(reference, axis=1) / np.linalg.norm(quantized, axis=1)
    assert cosine.min() > 0.98
    assert 0.5 <= converted.agreement <= 1.0 and converted.checked == len(dataset)
    assert converted.agreement == pytest.approx(neighbour_agreement(reference, quantized), abs=0.05)
    assert "10-NN agreement with tf" in converted.runtime_note
    monkeypatch.setattr(litert, "MIN_AGREEMENT", 1.01)
    with pytest.raises(EdgepruneError, match=r"embed_runtime=litert-int8: int8 keeps 0\.\d\d of TensorFlow's 10"):
        litert_backbone(backbone, "litert-int8", dataset, tmp_path)


def test_neighbour_agreement():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 8))
    assert neighbour_agreement(x, x) == 1.0
    assert neighbour_agreement(x, x + rng.normal(scale=1e-4, size=x.shape)) > 0.99
    assert neighbour_agreement(x, rng.normal(size=x.shape)) < 0.2
    assert neighbour_agreement(x[:1], x[:1]) == 1.0


def test_a_backbone_litert_cannot_convert_is_one_clear_error(tmp_path, images):
    import tensorflow as tf

    class Unconvertible(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        def __call__(self, x):
            pooled = tf.reduce_mean(x, [1, 2])
            return tf.linalg.svd(tf.reshape(tf.tile(pooled, [1, 3]), [-1, 3, 3]), compute_uv=False)

    tf.saved_model.save(Unconvertible(), str(tmp_path / "svd"))
    backbone = load_backbone(tmp_path / "svd", image_size=32)
    with pytest.raises(EdgepruneError, match=r"svd: cannot convert the backbone for LiteRT .*; use embed_runtime=tf"):
        litert_backbone(backbone, "litert", images[0], tmp_path / "cache")
    assert not list((tmp_path / "cache").rglob("*.tflite"))


def test_curate_and_leaks_on_litert(tiny_backbone, digits_coco, tmp_path, capsys):
    cache = tmp_path / "cache"
    common = ["--backbone", str(tiny_backbone), "--image-size", "64", "--cache-dir", str(cache)]
    assert main(["curate", str(digits_coco), "--out", str(tmp_path / "tf"), "--keep", "0.5", *common]) == 0
    argv = ["curate", str(digits_coco), "--out", str(tmp_path / "lite"), "--keep", "0.5", *common]
    assert main([*argv, "--embed-runtime", "litert"]) == 0
    printed = capsys.readouterr().out
    assert "embedded with LiteRT (litert" in printed
    summary = json.loads((tmp_path / "lite" / "summary.json").read_text())
    assert summary["embeddings_computed"] == summary["images_before"]  # not TensorFlow's cached rows
    assert "convert" in summary["seconds"]
    rows = lambda out: {r["image"]: r for r in csv.DictReader((out / "scores.csv").open())}  # noqa: E731
    ours, reference = rows(tmp_path / "lite"), rows(tmp_path / "tf")
    assert ours.keys() == reference.keys()
    for name, row in ours.items():  # float32: the same clusters and distances (a near-tie may rank either way)
        assert row["cluster"] == reference[name]["cluster"]
        assert float(row["distance"]) == pytest.approx(float(reference[name]["distance"]), abs=2e-6)
    assert main(["-q", "leaks", str(digits_coco), "--against", str(digits_coco), "--out", str(tmp_path / "leaks"),
                 *common, "--embed-runtime", "litert"]) == 0  # fmt: skip
    assert len(list((cache / "litert").glob("*.tflite"))) == 1  # every split went through one converted model


def test_runtime_and_beam_do_not_mix(digits_coco, tmp_path, capsys):
    argv = ["curate", str(digits_coco), "--out", str(tmp_path / "o"), "--runner", "beam", "--work-dir", "w"]
    assert main([*argv, "--embed-runtime", "litert-int8"]) == 2
    assert "--embed-runtime litert-int8 runs on the local runner" in capsys.readouterr().err
