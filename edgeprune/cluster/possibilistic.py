"""Possibilistic and mixed fuzzy-possibilistic c-means; typicalities ``t_`` lie in (0, 1].

All start from FCM (as their papers advise), estimate each cluster's scale from the FCM partition, and then
alternate typicality/membership and prototype updates until prototypes move less than ``tol``.

- PCM: R. Krishnapuram & J. M. Keller, "A possibilistic approach to clustering", IEEE TFS 1(2), 1993.
- FPCM: N. R. Pal, K. Pal & J. C. Bezdek, "A mixed c-means clustering model", FUZZ-IEEE 1997.
- PFCM: N. R. Pal, K. Pal, J. M. Keller & J. C. Bezdek, "A possibilistic fuzzy c-means clustering algorithm",
  IEEE TFS 13(4), 2005.
- IPCM and IPCM-2: J.-S. Zhang & Y.-W. Leung, "Improved possibilistic c-means clustering algorithms",
  IEEE TFS 12(2), 2004.
- BGPC: F. Masulli & S. Rovetta, "Soft transition from probabilistic to possibilistic fuzzy clustering",
  IEEE TFS 14(4), 2006 (the basic graded possibilistic model).
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from .fuzzy import FCM
from .iterative import (
    EPS,
    IterativeClusterer,
    estimator,
    fuzzy_memberships,
    possibilistic_scale,
    squared_distances64,
    weighted_centers,
)


class _FromFCM(IterativeClusterer):
    """Runs FCM first; subclasses continue from its prototypes ``self._centers`` and memberships ``self._u``."""

    m: float = 2.0

    def _start(self, X: np.ndarray) -> np.ndarray:
        fcm = FCM(self.n_clusters, m=self.m, max_iter=self.max_iter, tol=self.tol, random_state=self.random_state).fit(
            X
        )
        self._u = fcm.u_
        return fcm.cluster_centers_.astype(np.float64)

    def _alternate(self, X: np.ndarray, centers: np.ndarray, memberships, weights) -> tuple:
        """Alternate ``state = memberships(d2)`` and prototypes weighted by ``weights(*state)`` until converged.

        Returns the prototypes, the last iteration's state, and the memberships at the final prototypes.
        """

        def update(d2, _):
            state = memberships(d2)
            return weighted_centers(X, weights(*state), centers), state

        centers, last = self._iterate(X, centers, update)
        return centers, last, memberships(squared_distances64(X, centers))


def pcm_typicality(d2: np.ndarray, eta: np.ndarray, m: float) -> np.ndarray:
    """Krishnapuram & Keller's ``t_ik = 1 / (1 + (d_ik^2 / eta_i)^(1/(m-1)))``."""
    return 1.0 / (1.0 + (d2 / eta[None, :]) ** (1.0 / (m - 1.0)))


@estimator
class PCM(_FromFCM):
    """Possibilistic c-means (m=2, K=1): ``t_`` typicalities, ``eta_`` cluster scales."""

    m: float = 2.0
    k: float = 1.0

    def _run(self, X: np.ndarray) -> None:
        centers = self._start(X)
        self.eta_ = possibilistic_scale(squared_distances64(X, centers), self._u**self.m, self.k)
        self.cluster_centers_, _, (self.t_,) = self._alternate(
            X, centers, lambda d2: (pcm_typicality(d2, self.eta_, self.m),), lambda t: t**self.m
        )


@estimator
class FPCM(_FromFCM):
    """Fuzzy-possibilistic c-means (m=2, eta=2): ``u_`` sums to 1 over clusters, ``t_`` to 1 over samples."""

    m: float = 2.0
    eta: float = 2.0

    def _typicality(self, d2: np.ndarray) -> np.ndarray:
        inverse = np.maximum(d2, EPS) ** (-1.0 / (self.eta - 1.0))
        return inverse / inverse.sum(axis=0, keepdims=True)

    def _memberships(self, d2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return fuzzy_memberships(d2, self.m), self._typicality(d2)

    def _run(self, X: np.ndarray) -> None:
        self.cluster_centers_, _, (self.u_, self.t_) = self._alternate(
            X, self._start(X), self._memberships, lambda u, t: u**self.m + t**self.eta
        )


@estimator
class PFCM(_FromFCM):
    """Possibilistic-fuzzy c-means (m=2, eta=2, a=2, b=2, K=1): weights ``a u^m + b t^eta``."""

    m: float = 2.0
    eta: float = 2.0
    a: float = 2.0
    b: float = 2.0
    k: float = 1.0

    def _typicality(self, d2: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + (self.b * d2 / self.gamma_[None, :]) ** (1.0 / (self.eta - 1.0)))

    def _memberships(self, d2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return fuzzy_memberships(d2, self.m), self._typicality(d2)

    def _run(self, X: np.ndarray) -> None:
        centers = self._start(X)
        self.gamma_ = possibilistic_scale(squared_distances64(X, centers), self._u**self.m, self.k)
        self.cluster_centers_, _, (self.u_, self.t_) = self._alternate(
            X, centers, self._memberships, lambda u, t: self.a * u**self.m + self.b * t**self.eta
        )


@estimator
class IPCM(_FromFCM):
    """Improved PCM (Zhang & Leung, first algorithm; m_f=2, m_p=2, K=2).

    Objective ``sum u^mf t^mp d^2 + sum_i eta_i sum_k u^mf (1 - t)^mp``. Typicality as PCM; memberships as FCM on
    the effective distance ``t^mp d^2 + eta (1 - t)^mp``; prototypes weighted by ``u^mf t^mp``. Two stages: eta
    from the FCM partition, then re-estimated from the first stage's ``u^mf t^mp``.
    """

    m_f: float = 2.0
    m_p: float = 2.0
    k: float = 2.0

    @property
    def m(self) -> float:
        """The fuzzifier of the FCM start: ``m_f``."""
        return self.m_f

    def _step(self, d2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = pcm_typicality(d2, self.eta_, self.m_p)
        effective = t**self.m_p * d2 + self.eta_[None, :] * (1.0 - t) ** self.m_p
        return fuzzy_memberships(effective, self.m_f), t

    def _run(self, X: np.ndarray) -> None:
        centers = self._start(X)
        self.eta_ = possibilistic_scale(squared_distances64(X, centers), self._u**self.m_f, self.k)

        def weights(u, t):
            return u**self.m_f * t**self.m_p

        centers, (u, t), _ = self._alternate(X, centers, self._step, weights)
        self.eta_ = possibilistic_scale(squared_distances64(X, centers), weights(u, t), self.k)
        self.cluster_centers_, _, (self.u_, self.t_) = self._alternate(X, centers, self._step, weights)


@estimator
class IPCM2(_FromFCM):
    """Improved PCM, second algorithm (Zhang & Leung; m_f=2, m_p=2): exponential typicality.

    ``t = exp(-d^2 / gamma)``; at that optimum the effective distance for the memberships is ``gamma (1 - t)``;
    prototypes are weighted by ``u^mf t``. Two stages of gamma, as for IPCM.
    """

    m_f: float = 2.0
    m_p: float = 2.0

    @property
    def m(self) -> float:
        """The fuzzifier of the FCM start: ``m_f``."""
        return self.m_f

    def _step(self, d2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = np.exp(-d2 / self.gamma_[None, :])
        return fuzzy_memberships(self.gamma_[None, :] * (1.0 - t), self.m_f), t

    def _run(self, X: np.ndarray) -> None:
        centers = self._start(X)
        self.gamma_ = possibilistic_scale(squared_distances64(X, centers), self._u**self.m_f)
        centers, (u, t), _ = self._alternate(X, centers, self._step, lambda u, t: u**self.m_f * t)
        self.gamma_ = possibilistic_scale(squared_distances64(X, centers), u**self.m_f * t**self.m_p)
        self.cluster_centers_, _, (self.u_, self.t_) = self._alternate(
            X, centers, self._step, lambda u, t: u**self.m_f * t
        )


def graded_memberships(d2: np.ndarray, beta: float, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Masulli & Rovetta's graded memberships, in log space: ``(log u, log v)`` with ``v = exp(-d^2 / beta)``.

    ``u = v / kappa`` where ``kappa = (sum v^(1/alpha))^alpha`` if that sum exceeds 1, ``(sum v^alpha)^(1/alpha)`` if
    ``sum v^alpha`` is below 1, else 1: alpha = 1 is probabilistic (rows sum to 1), alpha -> 0 possibilistic.
    """
    log_v = -d2 / beta
    if alpha <= 0:
        return log_v, log_v
    upper = alpha * logsumexp(log_v / alpha, axis=1)
    lower = logsumexp(alpha * log_v, axis=1) / alpha
    log_kappa = np.where(upper > 0, upper, np.where(lower < 0, lower, 0.0))
    return log_v - log_kappa[:, None], log_v


@estimator
class BGPC(_FromFCM):
    """Basic graded possibilistic clustering (a_f=0.8, b_f=0.004, at most 100 iterations).

    The spread ``beta`` anneals geometrically from 0.1 to ``b_f`` and the grade ``alpha`` linearly from 1
    (probabilistic) to ``a_f``, over ``max_iter`` iterations, starting from FCM. ``u_`` are graded memberships,
    ``t_ = v`` the free (possibilistic) ones. The reference library's alpha schedule, ``(1 - b_f)(1 + e^(t-T) + a_f)``,
    leaves the model's [0, 1] range; this one stays inside it.
    """

    a_f: float = 0.8
    b_f: float = 0.004
    max_iter: int = 100

    def _schedule(self, iteration: int) -> tuple[float, float]:
        progress = min(1.0, (iteration - 1) / max(self.max_iter - 1, 1))
        beta = 0.1 * (self.b_f / 0.1) ** progress
        alpha = 1.0 - (1.0 - self.a_f) * progress
        return beta, alpha

    def _run(self, X: np.ndarray) -> None:
        centers = self._start(X)

        def update(d2, iteration):
            self.beta_, self.alpha_ = self._schedule(iteration)
            log_u, _ = graded_memberships(d2, self.beta_, self.alpha_)
            weights = np.exp(log_u - log_u.max(axis=0, keepdims=True))  # per-cluster rescaling: same weighted mean
            return weighted_centers(X, weights, centers), None

        self.cluster_centers_, _ = self._iterate(X, centers, update)
        log_u, log_v = graded_memberships(squared_distances64(X, self.cluster_centers_), self.beta_, self.alpha_)
        self.u_, self.t_ = np.exp(log_u), np.exp(log_v)
