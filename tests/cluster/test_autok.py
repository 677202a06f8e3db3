import numpy as np
import pytest
from sklearn.datasets import make_blobs

from edgeprune.cluster.autok import choose_k
from edgeprune.cluster.gng import GrowingNeuralGas
from edgeprune.errors import EdgepruneError


def test_gng_finds_well_separated_groups():
    X, _ = make_blobs(3000, n_features=8, centers=3, cluster_std=0.5, random_state=1)
    gng = GrowingNeuralGas(random_state=1).fit(X)
    assert gng.n_components_ == 3
    assert len(np.unique(gng.labels_)) == 3
    assert len(gng.cluster_centers_) > 3 and len(gng.edges_) > 0
    for seed in range(4):
        assert choose_k("auto", X, random_state=seed)[0] == 3


def test_choose_k_modes():
    X, _ = make_blobs(2000, n_features=8, centers=4, cluster_std=0.4, random_state=2)
    k, reason = choose_k("auto", X)
    assert k >= 2 and "Growing Neural Gas" in reason
    k, reason = choose_k("auto:silhouette", X)
    assert k == 4 and "silhouette" in reason
    assert choose_k(7, X)[0] == 7


@pytest.mark.parametrize(
    "spec, message",
    [("0", "at least 1"), ("abc", "positive integer or one of"), ("5000", "larger than the number of samples")],
)
def test_bad_specs(spec, message):
    with pytest.raises(EdgepruneError, match=message):
        choose_k(spec, np.zeros((10, 2)))
