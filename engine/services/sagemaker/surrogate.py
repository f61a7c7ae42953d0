"""The Bayesian strategy's surrogate: a Gaussian process over warped inputs.

A stationary kernel has one length scale per input for the whole range, and tuning objectives are
rarely like that: a regularisation strength can do nothing for half of its log range, matter within
a narrow band, then zero the model (docs/tuning.md, "a deceptive plateau"). Input warping (Snoek et
al., 2014, "Input Warping for Bayesian Optimization of Non-stationary Functions"; BoTorch's ``Warp``
transform) passes each numeric coordinate u in [0, 1] through a Kumaraswamy CDF,
``1 - (1 - u^a)^b``, whose shape is fitted together with the kernel, so the surrogate can stretch
the band where the objective changes and squeeze the plateau where it does not. One-hot
categorical columns are not warped.

The fit is maximum a posteriori over the log of every parameter: signal variance (bounded by
``amp_max``), one Matern 5/2 length scale per input with a Gamma(3, 6) prior (mean 0.5 of the unit
cube), white noise, and each warp's a and b with a log-normal(0, 0.75) prior (centred on no warp,
BoTorch's choice). The objective is the Gaussian log marginal likelihood of the normalised scores;
L-BFGS-B on it starts from the previous fit (the surrogate changes little from one observation to
the next). Prediction reuses scikit-learn's ``GaussianProcessRegressor`` with the fitted kernel
frozen, on warped inputs.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

_WARP_BOUNDS = (math.log(0.2), math.log(5.0))
_WARP_PRIOR_VARIANCE = 0.75


def length_scale_prior(log_ls: np.ndarray) -> tuple[float, np.ndarray]:
    """Minus the log density of a Gamma(3, 6) prior on each length scale (mean 0.5 of the unit cube), over
    the log length scales, and its gradient: a handful of observations cannot drive them to their bounds."""
    ls = np.exp(log_ls)
    return -float(np.sum(3.0 * log_ls - 6.0 * ls)), -(3.0 - 6.0 * ls)


def kumaraswamy(u: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The Kumaraswamy CDF, column by column; coordinates are clipped into (0, 1) first (a warm-start
    parent's value may lie outside its range)."""
    u = np.clip(u, 1e-6, 1.0 - 1e-6)
    return 1.0 - (1.0 - u ** a) ** b


@dataclass
class WarpedGP:
    """A fitted GP over warped inputs that takes unwarped ones."""

    gp: GaussianProcessRegressor
    numeric: np.ndarray  # bool mask of the warped columns
    a: np.ndarray
    b: np.ndarray

    @property
    def kernel_(self):
        return self.gp.kernel_

    def warp(self, x: np.ndarray) -> np.ndarray:
        return _warp_columns(x, self.numeric, self.a, self.b)

    def predict(self, x: np.ndarray, return_std: bool = False):
        return self.gp.predict(self.warp(x), return_std=return_std)

    def believe(self, x: np.ndarray, y: np.ndarray, pending: np.ndarray) -> WarpedGP:
        """The same surrogate with ``pending`` observed at its own mean ("kriging believer")."""
        gp = _frozen(self.gp.kernel_, self.warp(np.vstack([x, pending])), np.concatenate([y, self.predict(pending)]))
        return WarpedGP(gp, self.numeric, self.a, self.b)


def fit(x: np.ndarray, y: np.ndarray, numeric: np.ndarray, start: np.ndarray | None, *, ls_min: float,
        noise_min: float, amp_max: float) -> tuple[WarpedGP, np.ndarray]:
    """The MAP surrogate for inputs ``x`` (n x width) and scores ``y``, and its parameters (log scale:
    signal variance, length scales, noise, warp a's, warp b's) to start the next fit from."""
    width = x.shape[1]
    k = int(numeric.sum())
    yn = (y - y.mean()) / (y.std() or 1.0)
    ls_idx = slice(1, 1 + width)
    a_idx = slice(2 + width, 2 + width + k)
    b_idx = slice(2 + width + k, 2 + width + 2 * k)
    bounds = ([(math.log(1e-2), math.log(amp_max))] + [(math.log(ls_min), math.log(20.0))] * width
              + [(math.log(noise_min), math.log(0.5))] + [_WARP_BOUNDS] * (2 * k))
    if start is None or len(start) != len(bounds):
        start = np.array([0.0] + [math.log(0.5)] * width + [math.log(1e-2)] + [0.0] * (2 * k))
    start = np.clip(start, [lo for lo, _ in bounds], [hi for _, hi in bounds])
    objective = _NegativeLogPosterior(x, yn, numeric)
    theta = minimize(objective, start, method="L-BFGS-B", jac=True, bounds=bounds, options={"maxiter": 200}).x
    kernel = (ConstantKernel(math.exp(theta[0]), "fixed")
              * Matern(length_scale=np.exp(theta[ls_idx]), length_scale_bounds="fixed", nu=2.5)
              + WhiteKernel(math.exp(theta[1 + width]), "fixed"))
    a, b = np.exp(theta[a_idx]), np.exp(theta[b_idx])
    return WarpedGP(_frozen(kernel, _warp_columns(x, numeric, a, b), y), numeric, a, b), theta


class _NegativeLogPosterior:
    """Minus the log posterior of the parameters (log scale) and its gradient, for L-BFGS-B.

    With K = amp M(r) + noise I (M the Matern 5/2 correlation of the scaled distances r between warped
    inputs) and alpha = K^-1 y, the negative log marginal likelihood is y'alpha / 2 + log|K| / 2 and
    its derivative along a parameter is tr((K^-1 - alpha alpha') dK) / 2. dM/dr divided by r is
    -(1 + r) e^-r / 3, finite at r = 0, which is what every term below uses.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, numeric: np.ndarray):
        self.x, self.y, self.numeric = x, y, numeric
        self.u = np.clip(x[:, numeric], 1e-6, 1.0 - 1e-6)
        self.width, self.k = x.shape[1], int(numeric.sum())

    def __call__(self, t: np.ndarray) -> tuple[float, np.ndarray]:
        n, width, k = len(self.y), self.width, self.k
        amp, ls, noise = math.exp(t[0]), np.exp(t[1:1 + width]), math.exp(t[1 + width])
        a, b = np.exp(t[2 + width:2 + width + k]), np.exp(t[2 + width + k:])
        ua = self.u ** a
        rest = 1.0 - ua
        xw = self.x.astype(float)
        xw[:, self.numeric] = 1.0 - rest ** b
        diff = (xw[:, None, :] - xw[None, :, :]) / ls  # n x n x width, scaled differences
        r = math.sqrt(5.0) * np.sqrt(np.sum(diff * diff, axis=2))
        decay = np.exp(-r)
        cov = amp * (1.0 + r + r * r / 3.0) * decay + (noise + 1e-8) * np.eye(n)
        try:
            chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError:
            return 1e10, np.zeros_like(t)
        inv = np.linalg.solve(chol.T, np.linalg.solve(chol, np.eye(n)))
        alpha = inv @ self.y
        value = 0.5 * float(self.y @ alpha) + float(np.log(np.diag(chol)).sum())
        w = inv - np.outer(alpha, alpha)  # dNLL = tr(w dK) / 2
        slope = amp * (1.0 + r) * decay / 3.0  # -(dK/dr) / r
        grad = np.empty_like(t)
        grad[0] = 0.5 * float(np.sum(w * (cov - (noise + 1e-8) * np.eye(n))))
        grad[1 + width] = 0.5 * noise * float(np.trace(w))
        # length scale d: dK = slope * 5 diff_d^2
        grad[1:1 + width] = 0.5 * 5.0 * np.einsum("ij,ijd->d", w * slope, diff * diff)
        if k:
            # warp of column c: dK_ij = -slope_ij * 5 diff_ijc / ls_c * (g_i - g_j), g = dw/dtheta
            cols = np.flatnonzero(self.numeric)
            p = -(w * slope)[:, :, None] * 5.0 * diff[:, :, cols] / ls[cols]  # antisymmetric in i, j
            rows = p.sum(axis=1)  # n x k
            with np.errstate(divide="ignore", invalid="ignore"):
                g_a = b * rest ** (b - 1.0) * ua * np.log(self.u) * a
                g_b = -(rest ** b) * np.log(rest) * b
            grad[2 + width:2 + width + k] = np.sum(rows * np.nan_to_num(g_a), axis=0)
            grad[2 + width + k:] = np.sum(rows * np.nan_to_num(g_b), axis=0)
        # priors: Gamma(3, 6) on each length scale, log-normal(0, 0.75) on each warp parameter
        prior, prior_grad = length_scale_prior(t[1:1 + width])
        value += prior
        grad[1:1 + width] += prior_grad
        value += float(np.sum(t[2 + width:] ** 2)) / (2 * _WARP_PRIOR_VARIANCE)
        grad[2 + width:] += t[2 + width:] / _WARP_PRIOR_VARIANCE
        return value, grad


def _warp_columns(x: np.ndarray, numeric: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.array(x, dtype=float)
    out[:, numeric] = kumaraswamy(out[:, numeric], a, b)
    return out


def _frozen(kernel, x: np.ndarray, y: np.ndarray) -> GaussianProcessRegressor:
    gp = GaussianProcessRegressor(kernel=kernel, optimizer=None, normalize_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gp.fit(x, y)
    return gp
