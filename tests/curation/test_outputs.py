import functools

import numpy as np

from edgeprune.curation.outputs import export_folders
from edgeprune.curation.score import rank_in_cluster
from edgeprune.datasets import read_dataset
from edgeprune.datasets.files import copy_image


def test_reference_folders_split_each_cluster_by_the_rule(tmp_path, digits_coco):
    dataset = read_dataset(digits_coco)
    labels = np.arange(len(dataset)) % 2
    distances = np.linspace(1, 0, len(dataset))
    ranks = rank_in_cluster(distances, labels)
    hardlink = functools.partial(copy_image, mode="hardlink")
    export_folders(tmp_path, dataset, labels, ranks, keep=0.7, which="all", place_image=hardlink)
    n0 = int((labels == 0).sum())
    easy = sorted(p.name for p in (tmp_path / "prune_0_easy").iterdir())
    hard = sorted(p.name for p in (tmp_path / "prune_0_hard").iterdir())
    assert len(easy) == n0 - int(np.ceil(0.7 * n0)) and len(easy) + len(hard) == n0
    nearest = [dataset.images[i].file_name for i in np.flatnonzero(labels == 0) if ranks[i] < len(easy)]
    assert easy == sorted(nearest)
    assert len(list((tmp_path / "cluster_1").iterdir())) == len(dataset) - n0
