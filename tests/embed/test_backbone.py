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
