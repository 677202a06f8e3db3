"""Prototype classifiers, scikit-learn style, in numpy with analytic gradients and full-batch Adam.

- GLVQ: A. Sato & K. Yamada, "Generalized learning vector quantization", NIPS 1995. Loss: mean of
  ``f(mu)``, ``mu = (d+ - d-) / (d+ + d-)`` with d+ (d-) the distance to the nearest prototype of the correct
  (another) class.
- GMLVQ: P. Schneider, M. Biehl & B. Hammer, "Adaptive relevance matrices in learning vector quantization",
  Neural Computation 21(12), 2009. ``d(x, w) = ||Omega (x - w)||^2``; the relevance matrix
  ``Lambda = Omega^T Omega`` is positive semi-definite by construction, normalised to trace 1.
- CELVQ: cross-entropy LVQ; class logits are minus the distance to each class's nearest prototype, trained with
  softmax cross-entropy (as in prototorch's CELVQ).

These train on the samples ``edgeprune.prune`` keeps, to measure what pruning does (see
``experiments/lvq/lvq_pruning_experiment.py``).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class _Adam:
    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.state: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.t = 0

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.t += 1
        for name, grad in grads.items():
            m, v = self.state.get(name, (np.zeros_like(grad), np.zeros_like(grad)))
            m = self.beta1 * m + (1 - self.beta1) * grad
            v = self.beta2 * v + (1 - self.beta2) * grad**2
            self.state[name] = (m, v)
            m_hat, v_hat = m / (1 - self.beta1**self.t), v / (1 - self.beta2**self.t)
            params[name] -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class _PrototypeClassifier(ClassifierMixin, BaseEstimator):
    """Shared parts: prototype initialisation at class means, the (optionally learned) metric, prediction."""

    learn_metric = False

    def __init__(
        self,
        *,
        prototypes_per_class: int = 1,
        max_iter: int = 300,
        learning_rate: float = 0.05,
        random_state: int | None = 0,
    ) -> None:
        self.prototypes_per_class = prototypes_per_class
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.random_state = random_state

    @staticmethod
    def _distances(X: np.ndarray, W: np.ndarray, omega: np.ndarray) -> np.ndarray:
        """``||Omega (x - w)||^2`` for every sample and prototype, by matrix products."""
        xo, wo = X @ omega.T, W @ omega.T
        d = (xo**2).sum(axis=1)[:, None] - 2.0 * xo @ wo.T + (wo**2).sum(axis=1)[None, :]
        return np.maximum(d, 0.0)

    def fit(self, X: np.ndarray, y: np.ndarray) -> "_PrototypeClassifier":
        """Train prototypes (and the relevance matrix for GMLVQ) on ``X``, ``y``."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError("need at least two classes")
        rng = np.random.default_rng(self.random_state)
        spread = X.std(axis=0).mean() * 0.01
        W, labels = [], []
        for index in range(len(self.classes_)):
            mean = X[y_index == index].mean(axis=0)
            for _ in range(self.prototypes_per_class):
                W.append(mean + rng.normal(0, spread, size=X.shape[1]))
                labels.append(index)
        params = {"W": np.array(W), "omega": np.eye(X.shape[1])}
        self.prototype_labels_ = np.array(labels)
        optimizer = _Adam(self.learning_rate)
        self.loss_curve_ = []
        for _ in range(self.max_iter):
            W, omega = params["W"], params["omega"]
            loss, g = self._loss(self._distances(X, W, omega), y_index)  # g = dL/dd, [n, prototypes]
            self.loss_curve_.append(loss)
            # sum_n g_np (x_n - w_p), without forming [n, prototypes, dim] differences
            pulled = g.T @ X - g.sum(axis=0)[:, None] * W
            grads = {"W": -2.0 * pulled @ (omega.T @ omega)}
            if self.learn_metric:
                # sum_np g_np (x_n - w_p)(x_n - w_p)^T, expanded into matrix products
                scatter = (X.T * g.sum(axis=1)) @ X - X.T @ g @ W - W.T @ g.T @ X + (W.T * g.sum(axis=0)) @ W
                grads["omega"] = 2.0 * omega @ scatter
            optimizer.step(params, grads)
            if self.learn_metric:
                params["omega"] /= np.sqrt(np.sum(params["omega"] ** 2))
        self.prototypes_ = params["W"]
        self.omega_ = params["omega"]
        return self

    def decision_distances(self, X: np.ndarray) -> np.ndarray:
        """Distances ``[n, prototypes]`` under the learned metric."""
        return self._distances(np.asarray(X, dtype=np.float64), self.prototypes_, self.omega_)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class of the nearest prototype."""
        return self.classes_[self.prototype_labels_[self.decision_distances(X).argmin(axis=1)]]

    def _winners(self, d: np.ndarray, y_index: np.ndarray):
        same = self.prototype_labels_[None, :] == y_index[:, None]
        d_plus = np.where(same, d, np.inf)
        d_minus = np.where(same, np.inf, d)
        return d_plus.argmin(axis=1), d_minus.argmin(axis=1)


class GLVQ(_PrototypeClassifier):
    """Generalized LVQ with identity transfer on ``mu`` in [-1, 1] (Euclidean metric)."""

    def _loss(self, d: np.ndarray, y_index: np.ndarray) -> tuple[float, np.ndarray]:
        n = len(d)
        rows = np.arange(n)
        plus, minus = self._winners(d, y_index)
        dp, dm = d[rows, plus], d[rows, minus]
        total = np.maximum(dp + dm, 1e-12)
        mu = (dp - dm) / total
        grad = np.zeros_like(d)
        grad[rows, plus] = 2.0 * dm / total**2 / n
        grad[rows, minus] = -2.0 * dp / total**2 / n
        return float(mu.mean()), grad


class GMLVQ(GLVQ):
    """GLVQ with a learned full relevance matrix; ``relevance_matrix_`` is ``Omega^T Omega`` (PSD, trace 1)."""

    learn_metric = True

    @property
    def relevance_matrix_(self) -> np.ndarray:
        return self.omega_.T @ self.omega_


class CELVQ(_PrototypeClassifier):
    """Cross-entropy LVQ: softmax over minus the distance to each class's nearest prototype."""

    def _loss(self, d: np.ndarray, y_index: np.ndarray) -> tuple[float, np.ndarray]:
        n, n_classes = len(d), len(self.classes_)
        rows = np.arange(n)
        class_d = np.full((n, n_classes), np.inf)
        winners = np.zeros((n, n_classes), np.int64)
        for c in range(n_classes):
            members = np.flatnonzero(self.prototype_labels_ == c)
            best = d[:, members].argmin(axis=1)
            winners[:, c] = members[best]
            class_d[:, c] = d[rows, members[best]]
        logits = -class_d
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        loss = float(-np.log(np.maximum(p[rows, y_index], 1e-12)).mean())
        target = np.zeros_like(p)
        target[rows, y_index] = 1.0
        grad = np.zeros_like(d)
        np.add.at(grad, (np.repeat(rows, n_classes), winners.ravel()), (-(p - target) / n).ravel())
        return loss, grad
