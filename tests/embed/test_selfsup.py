import json

import numpy as np
import pytest
import tensorflow as tf

from edgeprune.datasets import read_dataset
from edgeprune.embed.augment import simclr_view
from edgeprune.embed.selfsup import (
    PretrainConfig,
    data_hash,
    nt_xent,
    pretrain,
    pretrained_for_dataset,
    pretraining_sample,
    recalibrate_batch_norm,
)
from edgeprune.errors import EdgepruneError

TINY = dict(image_size=96, width=0.35, batch_size=16, checkpoint_every=5, batch_norm_images=64)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, digits_coco):
    out = tmp_path_factory.mktemp("selfsup") / "backbone"
    result = pretrain(read_dataset(digits_coco), out, PretrainConfig(steps=40, seed=3, **TINY), progress=False)
    return out, result


def test_loss_goes_down(trained):
    _, result = trained
    assert len(result.losses) == 40
    assert np.mean(result.losses[-6:]) < np.mean(result.losses[:6]) - 0.05


def test_output_loads_through_hub_load_and_keras_layer(trained):
    import tensorflow_hub as hub
    import tf_keras

    out, result = trained
    images = tf.random.stateless_uniform([3, 96, 96, 3], seed=[1, 2])
    loaded = hub.load(str(out))(images)
    layer = hub.KerasLayer(str(out))
    model = tf_keras.Sequential([tf_keras.Input([96, 96, 3]), layer])
    assert loaded.shape == (3, result.embedding_dim) == model(images).shape
    np.testing.assert_allclose(loaded, model(images), rtol=1e-5, atol=1e-5)
    meta = json.loads((out / "backbone.json").read_text())
    assert meta["image_size"] == 96 and meta["embedding_dim"] == result.embedding_dim == 1280
    assert len(meta["loss_curve"]) > 0 and meta["data_hash"]
    assert tf.train.list_variables(str(out / meta["encoder_checkpoint"]))


def test_embeddings_of_different_images_differ(trained, digits_coco):
    """With ``batch_norm_images`` the exported backbone runs batch norm on recalibrated statistics: without it,
    every image's pooled features sit within about 5e-5 of one vector (their spread over their length)."""
    import tensorflow_hub as hub

    from edgeprune.embed.images import image_batches, image_source

    out, _ = trained
    dataset = read_dataset(digits_coco)
    batch = next(iter(image_batches([image_source(img) for img in dataset.images[:32]], image_size=96)))
    embeddings = hub.load(str(out))(batch).numpy()
    spread = np.linalg.norm(embeddings - embeddings.mean(0), axis=1).mean() / np.linalg.norm(embeddings, axis=1).mean()
    assert spread > 0.05
    assert json.loads((out / "backbone.json").read_text())["batch_norm_images"] == min(64, len(dataset))


def test_recalibration_is_off_by_default_and_keeps_old_cache_keys():
    from edgeprune.embed.selfsup import cache_settings

    assert PretrainConfig().batch_norm_images == 0 and "batch_norm_images" not in cache_settings(PretrainConfig())
    assert cache_settings(PretrainConfig(batch_norm_images=512))["batch_norm_images"] == 512
    with pytest.raises(EdgepruneError, match="batch_norm_images=-1"):
        PretrainConfig(batch_norm_images=-1).validate()


def test_recalibration_sets_the_population_statistics():
    import tf_keras

    layer = tf_keras.layers.BatchNormalization(momentum=0.99)
    layer.build([None, 2, 2, 3])  # an encoder's layers are built before training

    class Encoder(tf.Module):
        def __init__(self):
            super().__init__()
            self.norm = layer

        def __call__(self, images, training=False):
            return {"6": self.norm(images, training=training)}

    rng = np.random.default_rng(0)
    batches = [tf.constant(rng.normal(3.0, 2.0, (n, 2, 2, 3)), tf.float32) for n in (8, 8, 8)]
    from unittest import mock

    with mock.patch("edgeprune.embed.selfsup.FEATURE_ENDPOINT", "6"):
        assert recalibrate_batch_norm(Encoder(), batches) == 24
    scaled = np.concatenate([b.numpy() for b in batches]) * 2.0 - 1.0  # embed_with's [0, 1] -> [-1, 1]
    mean = scaled.reshape(-1, 3).mean(0)
    np.testing.assert_allclose(layer.moving_mean.numpy(), mean, rtol=1e-5)
    batch_vars = [((b.numpy() * 2.0 - 1.0).reshape(-1, 3)).var(0, ddof=1) for b in batches]
    np.testing.assert_allclose(layer.moving_variance.numpy(), np.mean(batch_vars, 0), rtol=1e-4)
    assert layer.momentum == 0.99


def test_deterministic_for_a_seed(tmp_path, trained, digits_coco):
    import tensorflow_hub as hub

    out, _ = trained
    again = tmp_path / "again"
    pretrain(read_dataset(digits_coco), again, PretrainConfig(steps=40, seed=3, **TINY), progress=False)
    images = tf.random.stateless_uniform([4, 96, 96, 3], seed=[5, 6])
    np.testing.assert_allclose(hub.load(str(out))(images), hub.load(str(again))(images), rtol=1e-3, atol=1e-4)


def test_resumes_from_its_checkpoint(tmp_path, digits_coco):
    dataset = read_dataset(digits_coco)
    out = tmp_path / "bb"
    config = PretrainConfig(steps=10, seed=1, **TINY)
    with pytest.raises(KeyboardInterrupt):
        from unittest import mock

        real_save = tf.train.CheckpointManager.save

        def save_then_stop(self, *args, **kwargs):
            real_save(self, *args, **kwargs)
            raise KeyboardInterrupt

        with mock.patch.object(tf.train.CheckpointManager, "save", save_then_stop):
            pretrain(dataset, out, config, progress=False)
    assert not out.exists() and (tmp_path / ".bb.partial").is_dir()
    result = pretrain(dataset, out, config, progress=False)
    assert result.resumed_from == 5 and len(result.losses) == 10
    assert not (tmp_path / ".bb.partial").exists()


def test_crops_mode_trains_on_boxes(tmp_path, digits_coco):
    result = pretrain(
        read_dataset(digits_coco), tmp_path / "crops", PretrainConfig(steps=2, crops=True, **TINY), progress=False
    )
    assert json.loads((tmp_path / "crops" / "backbone.json").read_text())["training_images"] > 43
    assert len(result.losses) == 2


def test_a_large_dataset_pretrains_on_a_seeded_sample(digits_coco):
    dataset = read_dataset(digits_coco)
    assert pretraining_sample(dataset, limit=len(dataset)) is dataset  # small sets: all images, the same cache key
    sample = pretraining_sample(dataset, seed=4, limit=20)
    names = [img.file_name for img in sample.images]
    assert len(names) == 20 and len(set(names)) == 20
    assert names == [img.file_name for img in dataset.images if img.file_name in set(names)]  # dataset order
    assert names == [img.file_name for img in pretraining_sample(dataset, seed=4, limit=20).images]
    assert names != [img.file_name for img in pretraining_sample(dataset, seed=5, limit=20).images]


def test_the_cached_backbone_trains_on_the_sample_only(tmp_path, digits_coco):
    dataset = read_dataset(digits_coco)
    handle, size = pretrained_for_dataset(dataset, cache_root=tmp_path, steps=1, seed=2, progress=False, sample=12)
    meta = json.loads((tmp_path / "backbones" / handle.rsplit("/", 1)[-1] / "backbone.json").read_text())
    assert size == 96 and meta["training_images"] == 12
    assert meta["data_hash"] == data_hash(pretraining_sample(dataset, seed=2, limit=12))
    again, _ = pretrained_for_dataset(dataset, cache_root=tmp_path, steps=1, seed=2, progress=False, sample=12)
    assert again == handle


def test_bad_input(tmp_path, digits_coco):
    dataset = read_dataset(digits_coco)
    with pytest.raises(EdgepruneError, match="--image-size must be one of 96, 128, 160, 224"):
        pretrain(dataset, tmp_path / "a", PretrainConfig(image_size=100))
    with pytest.raises(EdgepruneError, match="width=2.0 must be in"):
        pretrain(dataset, tmp_path / "a", PretrainConfig(width=2.0))
    for img in dataset.images:
        img.boxes = []
    with pytest.raises(EdgepruneError, match="no object boxes"):
        pretrain(dataset, tmp_path / "a", PretrainConfig(crops=True))
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(EdgepruneError, match="cannot write here"):
        pretrain(read_dataset(digits_coco), tmp_path / "a_file" / "bb", PretrainConfig(steps=1))


def test_nt_xent_prefers_matching_pairs():
    z = tf.random.stateless_normal([8, 16], seed=[0, 1])
    assert nt_xent(z, z, 0.2) < nt_xent(z, tf.roll(z, 1, axis=0), 0.2)


def test_views_are_deterministic_and_differ_by_seed():
    image = tf.random.stateless_uniform([120, 120, 3], seed=[0, 0])
    a = simclr_view(image, 96, tf.constant([1, 2], tf.int64))
    b = simclr_view(image, 96, tf.constant([1, 2], tf.int64))
    c = simclr_view(image, 96, tf.constant([1, 3], tf.int64))
    assert a.shape == (96, 96, 3)
    np.testing.assert_array_equal(a, b)
    assert float(tf.reduce_max(tf.abs(a - c))) > 0.01
    assert 0.0 <= float(tf.reduce_min(a)) and float(tf.reduce_max(a)) <= 1.0


def test_views_without_flip_are_never_mirrored():
    image = tf.concat([tf.zeros([64, 32, 3]), tf.ones([64, 32, 3])], axis=1)  # dark left half, bright right half
    for seed in range(8):
        view = simclr_view(image, 64, tf.constant([seed, 0], tf.int64), min_scale=1.0, flip=False).numpy()
        gray = view.mean(axis=(0, 2))
        assert gray[:16].mean() <= gray[-16:].mean()
    flipped = [
        simclr_view(image, 64, tf.constant([seed, 0], tf.int64), min_scale=1.0).numpy().mean(axis=(0, 2))
        for seed in range(8)
    ]
    assert any(g[:16].mean() > g[-16:].mean() for g in flipped)  # with flips, some views are mirrored
