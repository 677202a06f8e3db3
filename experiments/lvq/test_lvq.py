import numpy as np
from lvq import CELVQ, GLVQ, GMLVQ
from sklearn.datasets import load_iris
from sklearn.model_selection import cross_val_score, train_test_split


def test_glvq_above_090_on_iris():
    X, y = load_iris(return_X_y=True)
    train_x, test_x, train_y, test_y = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    model = GLVQ(max_iter=500).fit(train_x, train_y)
    assert model.score(test_x, test_y) > 0.9
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    assert cross_val_score(GLVQ(max_iter=500), X, y, cv=5).mean() > 0.9


def test_gmlvq_relevance_matrix_is_psd_with_unit_trace():
    X, y = load_iris(return_X_y=True)
    model = GMLVQ().fit(X, y)
    relevance = model.relevance_matrix_
    np.testing.assert_allclose(relevance, relevance.T, atol=1e-12)
    assert np.linalg.eigvalsh(relevance).min() > -1e-10
    assert np.isclose(np.trace(relevance), 1.0)
    assert model.score(X, y) > 0.9


def test_celvq_learns_and_predicts_labels_it_was_given():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    model = CELVQ(prototypes_per_class=2).fit(X, names)
    assert set(model.predict(X)) <= set(names)
    assert model.score(X, names) > 0.9
    assert model.loss_curve_[-1] < model.loss_curve_[0]
