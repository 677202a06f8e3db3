import numpy as np
import pytest
import tensorflow as tf

from edgeprune.embed import load_backbone
from edgeprune.errors import EdgepruneError


def test_loads_a_local_savedmodel_through_hub(tiny_backbone):
    backbone = load_backbone(tiny_backbone, image_size=32)
    out = backbone(tf.zeros([5, 32, 32, 3]))
    assert out.shape == (5, 16)
    assert backbone.key == load_backbone(tiny_backbone, image_size=32).key
    assert backbone.key != load_backbone(tiny_backbone, image_size=48).key


def test_signature_only_model_with_feature_map_output(tmp_path):
    class FeatureMap(tf.Module):
        def __init__(self):
            super().__init__()
            self.k = tf.Variable(tf.ones([1, 1, 3, 4]))

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        def features(self, pixels):
            return {"feature_map": tf.nn.conv2d(pixels, self.k, 1, "SAME")}

    module = FeatureMap()
    tf.saved_model.save(module, str(tmp_path / "fm"), signatures={"serving_default": module.features})
    backbone = load_backbone(tmp_path / "fm", image_size=16)
    out = backbone(tf.ones([2, 16, 16, 3])).numpy()
    np.testing.assert_allclose(out, np.full((2, 4), 3.0))


def test_unloadable_backbone_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(EdgepruneError, match="empty: cannot load backbone with tensorflow_hub"):
        load_backbone(tmp_path / "empty")
    with pytest.raises(EdgepruneError, match="backbone directory does not exist"):
        load_backbone(tmp_path / "missing")
    with pytest.raises(EdgepruneError, match="unknown preprocessing"):
        load_backbone(tmp_path / "empty", preprocess="weird")


def _fixed_size_backbone(path, size: int, *, signature_only: bool = False):
    class Fixed(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(tf.ones([3, 8]))

        @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)])
        def embed(self, pixels):
            return tf.reduce_mean(pixels, axis=[1, 2]) @ self.w

    module = Fixed()
    if signature_only:
        tf.saved_model.save(module, str(path), signatures={"serving_default": module.embed})
    else:
        module.__call__ = module.embed
        tf.saved_model.save(module, str(path))
    return path


@pytest.mark.parametrize("signature_only", [False, True])
def test_a_fixed_input_size_is_read_from_the_savedmodel(tmp_path, signature_only):
    path = _fixed_size_backbone(tmp_path / "fixed", 96, signature_only=signature_only)
    backbone = load_backbone(path)  # 224 would fail: "Can not cast TensorSpec(shape=(1, 224, 224, 3)..."
    assert backbone.image_size == 96 and backbone(tf.ones([2, 96, 96, 3])).shape == (2, 8)
    assert load_backbone(path, image_size=96).key == backbone.key
    with pytest.raises(EdgepruneError, match=r"takes 96x96 images, but --image-size is 128; use --image-size 96"):
        load_backbone(path, image_size=128)


def test_a_backbone_that_takes_any_size_defaults_to_224(tiny_backbone):
    assert load_backbone(tiny_backbone).image_size == 224


def test_curate_uses_the_declared_size_without_image_size(tmp_path, digits_coco):
    from edgeprune.cli import main

    path = _fixed_size_backbone(tmp_path / "fixed", 64)
    argv = ["-q", "curate", str(digits_coco), "--out", str(tmp_path / "out"), "--backbone", str(path), "-k", "2"]
    assert main([*argv, "--cache-dir", str(tmp_path / "cache")]) == 0
    import json

    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["images_after"] == 22
