"""How a tuning job chooses hyperparameters: the search space and the strategies.

A ``Space`` is the tuning job's ranges. Every range maps a coordinate ``r`` in
[0, 1] to a value through its scaling (Linear, Logarithmic, ReverseLogarithmic;
Integer ranges round, Categorical ranges pick ``values[floor(r * k)]``), and
back, so every strategy works in the unit cube:

* ``RandomSearch``: independent uniform draws in the unit cube (uniform on the
  scaled axis), without repeating a combination while a discrete space has
  untried ones.
* ``GridSearch``: every combination of the categorical values, once each, in
  the order the ranges and values were given.
* ``BayesianSearch``: a Latin hypercube of initial points, then a Gaussian
  process (Matern 5/2 kernel with one length scale per input, plus a
  white-noise term) fitted to the observed objective over the scaled
  coordinates (categorical values one-hot), each numeric coordinate passed
  through a fitted Kumaraswamy warp (``surrogate.py``: the objective may change
  in one narrow part of a range and not at all in the rest), and the candidate
  of highest expected improvement. The surrogate models the scores' ranks
  mapped to normal quantiles (a copula transform: diverged losses and plateaus
  cannot flatten it); its length scales are fitted with a Gamma(3, 6) prior
  (mean 0.5 of the unit cube) and a floor of 0.05, and its signal variance is
  bounded, so a few observations cannot make unexplored corners look promising
  by extrapolation alone, nor can job-to-job noise be interpolated as detail.
  Running jobs count as observed at the surrogate's mean ("kriging believer"),
  so parallel suggestions differ. Warm start hands it the parents' results as
  prior observations.
* ``Rungs``: Hyperband's successive halving, asynchronous (ASHA): a job that
  reaches a rung (MinResource x 3^k epochs) goes on only if its objective is in
  the best third of the jobs that reached that rung so far.
* ``median_rule``: early stopping ``Auto``, as AWS documents it.

Scores are "higher is better" everywhere here (the tuning job negates a
Minimize objective). Everything is seeded: the same seed and the same
observations give the same suggestions.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr
from scipy.stats import qmc
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

from engine.services.sagemaker import surrogate

Point = dict[str, Any]  # hyperparameter name -> int | float | str


@dataclass(frozen=True)
class Dim:
    """One tunable hyperparameter: a scaled numeric range or a list of categorical values."""

    name: str
    kind: str  # "Integer" | "Continuous" | "Categorical"
    low: float = 0.0
    high: float = 1.0
    scaling: str = "Linear"  # resolved: "Linear" | "Logarithmic" | "ReverseLogarithmic"
    values: tuple[str, ...] = ()

    @property
    def categorical(self) -> bool:
        return self.kind == "Categorical"

    @property
    def width(self) -> int:
        """Columns in the surrogate's input: one per numeric range, one-hot for categorical."""
        return len(self.values) if self.categorical else 1

    def _bounds(self) -> tuple[float, float]:
        # Integers are drawn on [low - 0.5, high + 0.5] and rounded, so every integer is equally likely
        # on its scale; Logarithmic integer ranges have low >= 1, so low - 0.5 stays positive.
        if self.kind == "Integer":
            return self.low - 0.5, self.high + 0.5
        return self.low, self.high

    def _warp(self, x: float) -> float:
        if self.scaling == "Logarithmic":
            return math.log(x)
        if self.scaling == "ReverseLogarithmic":
            return -math.log(1.0 - x)
        return x

    def value(self, r: float) -> Any:
        """The hyperparameter value at coordinate ``r`` in [0, 1]."""
        if self.categorical:
            r = min(max(float(r), 0.0), 1.0)
            return self.values[min(int(r * len(self.values)), len(self.values) - 1)]
        x = float(self.values_at(np.array([r]))[0])
        return int(x) if self.kind == "Integer" else x

    def values_at(self, r: np.ndarray) -> np.ndarray:
        """Numeric values at coordinates ``r`` (vectorised; integers come back as whole floats)."""
        r = np.clip(np.asarray(r, dtype=float), 0.0, 1.0)
        a, b = self._bounds()
        ta, tb = self._warp(a), self._warp(b)
        t = ta + r * (tb - ta)
        if self.scaling == "Logarithmic":
            x = np.exp(t)
        elif self.scaling == "ReverseLogarithmic":
            x = 1.0 - np.exp(-t)
        else:
            x = t
        if self.kind == "Integer":
            x = np.round(x)
        return np.clip(x, self.low, self.high)

    def units_of(self, x: np.ndarray) -> np.ndarray:
        """Coordinates of numeric values (vectorised inverse of ``values_at``)."""
        a, b = self._bounds()
        ta, tb = self._warp(a), self._warp(b)
        if self.scaling == "Logarithmic":
            t = np.log(x)
        elif self.scaling == "ReverseLogarithmic":
            t = -np.log(1.0 - x)
        else:
            t = np.asarray(x, dtype=float)
        return np.full(np.shape(x), 0.5) if tb == ta else (t - ta) / (tb - ta)

    def unit(self, value: Any) -> float | None:
        """The coordinate of ``value`` (may lie outside [0, 1] for a warm-start parent's value); None if
        it has none (a categorical value not in the list, a non-positive value on a log scale ...)."""
        if self.categorical:
            text = str(value)
            return (self.values.index(text) + 0.5) / len(self.values) if text in self.values else None
        try:
            x = float(value)
            if self.scaling == "Logarithmic" and x <= 0 or self.scaling == "ReverseLogarithmic" and x >= 1:
                return None
            u = float(self.units_of(np.array([x]))[0])
        except (TypeError, ValueError):
            return None
        return u if math.isfinite(u) else None

    def parse(self, text: str) -> Any:
        """A value from its string form (as TunedHyperParameters or static hyperparameters carry it)."""
        if self.categorical:
            return str(text)
        x = float(text)
        return int(round(x)) if self.kind == "Integer" else x

    def format(self, value: Any) -> str:
        if self.categorical:
            return str(value)
        if self.kind == "Integer":
            return str(int(value))
        return repr(float(value))


class Space:
    """The tunable hyperparameters of one tuning job, in request order."""

    def __init__(self, dims: list[Dim]):
        self.dims = list(dims)
        self.width = sum(d.width for d in self.dims)

    def point(self, r: np.ndarray) -> Point:
        return {d.name: d.value(x) for d, x in zip(self.dims, r)}

    def coords(self, point: Point) -> np.ndarray | None:
        """The unit-cube coordinates of a point (None when a coordinate is undefined)."""
        out = []
        for d in self.dims:
            u = d.unit(point[d.name])
            if u is None:
                return None
            out.append(u)
        return np.array(out, dtype=float)

    def encode(self, point: Point) -> np.ndarray | None:
        """The surrogate's input: scaled numeric coordinates and one-hot categorical values."""
        cols: list[float] = []
        for d in self.dims:
            if d.categorical:
                text = str(point[d.name])
                cols.extend(1.0 if v == text else 0.0 for v in d.values)
            else:
                u = d.unit(point[d.name])
                if u is None:
                    return None
                cols.append(u)
        return np.array(cols, dtype=float)

    def snap(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Candidates ``r`` (n x dims) moved onto the values they stand for (integers rounded,
        categorical cells centred), and the surrogate's inputs for them (n x width)."""
        r = np.clip(np.asarray(r, dtype=float), 0.0, 1.0)
        snapped = np.empty_like(r)
        cols = []
        for j, d in enumerate(self.dims):
            if d.categorical:
                k = len(d.values)
                idx = np.minimum((r[:, j] * k).astype(int), k - 1)
                snapped[:, j] = (idx + 0.5) / k
                cols.append(np.eye(k)[idx])
            else:
                u = d.units_of(d.values_at(r[:, j])) if d.kind == "Integer" else r[:, j]
                snapped[:, j] = u
                cols.append(u[:, None])
        return snapped, (np.hstack(cols) if cols else np.zeros((len(r), 0)))

    def key(self, point: Point) -> tuple[str, ...]:
        return tuple(d.format(point[d.name]) for d in self.dims)

    def strings(self, point: Point) -> dict[str, str]:
        return {d.name: d.format(point[d.name]) for d in self.dims}

    def size(self) -> int | None:
        """The number of distinct combinations, or None when a range is continuous."""
        n = 1
        for d in self.dims:
            if d.kind == "Continuous":
                return None
            n *= len(d.values) if d.categorical else int(d.high - d.low + 1)
        return n

    def grid(self) -> list[Point]:
        names = [d.name for d in self.dims]
        return [dict(zip(names, combo)) for combo in itertools.product(*(d.values for d in self.dims))]


@dataclass
class Observation:
    point: Point
    score: float  # higher is better


class Searcher:
    """Suggests the next point from what was observed and what is still running."""

    def __init__(self, space: Space, seed: int):
        self.space = space
        self.rng = np.random.default_rng(seed)

    def suggest(self, observed: list[Observation], pending: list[Point]) -> Point | None:
        raise NotImplementedError

    def _random(self, seen: set[tuple[str, ...]]) -> Point:
        size = self.space.size()
        point = self.space.point(self.rng.random(len(self.space.dims)))
        if size is not None and len(seen) < size:
            for _ in range(200):  # a discrete space with untried combinations: do not repeat one
                if self.space.key(point) not in seen:
                    break
                point = self.space.point(self.rng.random(len(self.space.dims)))
        return point


def _seen(space: Space, observed: list[Observation], pending: list[Point], tried: list[Point]) -> set:
    return {space.key(p) for p in [*(o.point for o in observed), *pending, *tried]}


class RandomSearch(Searcher):
    def __init__(self, space: Space, seed: int):
        super().__init__(space, seed)
        self.tried: list[Point] = []

    def suggest(self, observed: list[Observation], pending: list[Point]) -> Point | None:
        point = self._random(_seen(self.space, [], pending, self.tried))
        self.tried.append(point)
        return point


class GridSearch(Searcher):
    def __init__(self, space: Space, seed: int):
        super().__init__(space, seed)
        self.todo = space.grid()

    def suggest(self, observed: list[Observation], pending: list[Point]) -> Point | None:
        return self.todo.pop(0) if self.todo else None


def expected_improvement(mu: np.ndarray, sigma: np.ndarray, best: float, xi: float) -> np.ndarray:
    """EI for maximisation: E[max(f - best - xi, 0)] under N(mu, sigma^2)."""
    sigma = np.maximum(sigma, 1e-12)
    imp = mu - best - xi
    z = imp / sigma
    return imp * ndtr(z) + sigma * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


class BayesianSearch(Searcher):
    """Gaussian-process Bayesian optimisation with expected improvement.

    ``n_initial`` Latin-hypercube points come first (fewer when warm start already
    supplies observations); after that each suggestion maximises EI over
    ``n_candidates`` uniform candidates plus Gaussian perturbations of the best
    points so far, refined once around the winner. The kernel's hyperparameters
    and the input warps are refitted for every suggestion (maximum a posteriori,
    ``surrogate.fit``), starting from the previous fit; ``ls_min`` is the
    length scales' floor. ``input_warp=False`` fits scikit-learn's GP on the
    unwarped coordinates instead (the strategy before input warping, which had
    ``ls_min=0.02``; the Gamma prior is then ``ls_prior``). ``transform`` is how
    scores reach the surrogate: "copula" (ranks to normal quantiles, the default), "warp" (a long
    tail of bad scores pulled in), "log" (minus the log of the distance below the
    best score) or anything else for the raw scores. ``amp_max`` bounds the signal
    variance of the (normalised) scores: far from every observation the
    surrogate's uncertainty stays near that of the data.

    Options kept for comparison, off by default because the benchmark in
    docs/tuning.md did not confirm a gain on fresh seeds: ``acquisition`` "pi",
    "ucb" (GP-UCB, beta_t = 0.2 d log 2t) or "hedge" (GP-Hedge over EI, PI and
    UCB, rewarded with the posterior mean at each one's nominee); ``dense``
    (extra candidates: Gaussian perturbations of the best points at radii 0.3 to
    0.01 and moves along one coordinate at a time); ``polish`` (L-BFGS-B on the
    acquisition over the continuous coordinates from the chosen candidate).
    """

    def __init__(self, space: Space, seed: int, prior: list[Observation] | None = None, *,
                 n_initial: int | None = None, n_candidates: int = 2000, xi: float = 0.01,
                 restarts: int = 1, transform: str = "copula", scales: tuple[float, ...] = (0.15, 0.05),
                 anchors: int = 5, trust_region: bool = False, tr_length: float = 0.8, tr_min: float = 0.05,
                 tr_success: int = 2, tr_failure: int | None = None, global_frac: float = 0.0,
                 ls_min: float = 0.05, noise_min: float = 1e-6, plugin: bool = False, ls_prior: bool = True,
                 amp_max: float = 4.0, acquisition: str = "ei", dense: bool = False, polish: bool = False,
                 hedge_eta: float = 1.0, input_warp: bool = True):
        super().__init__(space, seed)
        self.input_warp = input_warp
        self.prior = [o for o in (prior or []) if space.encode(o.point) is not None]
        d = max(1, len(space.dims))
        self.n_initial = n_initial if n_initial is not None else min(10, max(4, d + 2))
        self.design = qmc.LatinHypercube(d=d, seed=self.rng).random(self.n_initial)
        self.acquisition = acquisition
        self.dense = dense
        self.polish = polish
        self.hedge_eta = hedge_eta
        self._gains = np.zeros(3)
        self._nominees: list[np.ndarray] = []
        self.used = 0
        self.tried: list[Point] = []
        self.n_candidates = n_candidates
        self.xi = xi
        self.restarts = restarts
        self.transform = transform
        self.scales = tuple(scales)
        self.n_anchors = anchors
        self.trust_region = trust_region
        self.tr_start = self.length = tr_length
        self.tr_min = tr_min
        self.tr_success = tr_success
        self.tr_failure = tr_failure if tr_failure is not None else max(2, len(space.dims))
        self.global_frac = global_frac
        self.ls_min = ls_min
        self.noise_min = noise_min
        self.plugin = plugin
        self.ls_prior = ls_prior
        self.amp_max = amp_max
        self._succ = self._fail = 0
        # the parents' results (warm start) neither grow nor shrink the trust region
        self._counted: set[tuple[str, ...]] = {space.key(o.point) for o in self.prior}
        self._best: float | None = max((o.score for o in self.prior), default=None)
        self._theta: np.ndarray | None = None  # the last fit's kernel hyperparameters (log scale)

    def suggest(self, observed: list[Observation], pending: list[Point]) -> Point | None:
        obs = self.prior + [o for o in observed if math.isfinite(o.score)]
        seen = _seen(self.space, obs, pending, self.tried)
        if self.used < self.n_initial and len(obs) + len(pending) < self.n_initial:
            point = self.space.point(self.design[self.used])
            self.used += 1
            if self.space.key(point) in seen:  # integer or categorical ranges rounded two design points together
                point = self._random(seen)
        elif len(obs) < 2:
            point = self._random(seen)
        else:
            with _one_thread():
                point = self._bayes(obs, pending, seen)
        self.tried.append(point)
        return point

    # -- the surrogate -----------------------------------------------------------------------
    def _kernel(self, width: int):
        kernel = (ConstantKernel(1.0, (1e-2, self.amp_max))
                  * Matern(length_scale=np.full(width, 0.5), length_scale_bounds=(self.ls_min, 20.0), nu=2.5)
                  + WhiteKernel(max(1e-2, self.noise_min), (self.noise_min, 0.5)))
        if self._theta is not None and len(self._theta) == len(kernel.theta):
            kernel = kernel.clone_with_theta(self._theta)
        return kernel

    def _fit(self, x: np.ndarray, y: np.ndarray) -> surrogate.WarpedGP:
        if self.input_warp:  # warp the numeric columns, not the one-hot ones
            numeric = np.concatenate([[not d.categorical] * d.width for d in self.space.dims]).astype(bool)
            gp, self._theta = surrogate.fit(x, y, numeric, self._theta, ls_min=self.ls_min,
                                            noise_min=self.noise_min, amp_max=self.amp_max)
            return gp
        gp = GaussianProcessRegressor(kernel=self._kernel(x.shape[1]), normalize_y=True,
                                      n_restarts_optimizer=self.restarts,
                                      optimizer=_map_optimizer(x.shape[1]) if self.ls_prior else "fmin_l_bfgs_b",
                                      random_state=int(self.rng.integers(2**31 - 1)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            gp.fit(x, y)
        self._theta = gp.kernel_.theta
        return surrogate.WarpedGP(gp, np.zeros(x.shape[1], dtype=bool), np.empty(0), np.empty(0))

    def _bayes(self, obs: list[Observation], pending: list[Point], seen: set) -> Point:
        space = self.space
        x = np.array([space.encode(o.point) for o in obs])
        y = _transform(np.array([o.score for o in obs]), self.transform)
        gp = self._fit(x, y)
        best = float(gp.predict(x).max()) if self.plugin else float(y.max())
        xi = self.xi * float(np.std(y) or 1.0)
        if pending:  # kriging believer: a running job counts as observed at the surrogate's mean
            xp = np.array([e for e in (space.encode(p) for p in pending) if e is not None])
            if len(xp):
                gp = gp.believe(x, y, xp)
        top = np.argsort(-y, kind="stable")[:self.n_anchors]
        anchors = [a for a in (space.coords(obs[i].point) for i in top) if a is not None]
        if self.trust_region and anchors:
            self._update_region(obs)
            cands = self._region_candidates(gp, anchors[0])
        else:
            cands = self._candidates(anchors, self.scales)
            if self.dense:
                cands = np.vstack([cands, self._local_candidates(anchors)])
        n_obs = len(obs)
        if self.acquisition == "hedge":
            acqs = [self._acq("ei", best, xi, n_obs), self._acq("pi", best, xi, n_obs), self._acq("ucb", best, xi, n_obs)]
            if self._nominees:  # GP-Hedge: each acquisition gains the posterior mean at its last nominee
                _, xn = space.snap(np.array(self._nominees))
                self._gains += gp.predict(xn)
            nominees = [self._maximise(gp, cands, a, seen) for a in acqs]
            if any(r is None for r in nominees):
                return self._random(seen)
            g = self.hedge_eta * (self._gains - self._gains.max())
            prob = np.exp(g) / np.exp(g).sum()
            r = nominees[int(self.rng.choice(len(acqs), p=prob))]
            self._nominees = nominees
        else:
            r = self._maximise(gp, cands, self._acq(self.acquisition, best, xi, n_obs), seen)
        return space.point(r) if r is not None else self._random(seen)

    def _acq(self, how: str, best: float, xi: float, n: int):
        if how == "pi":
            return lambda mu, sigma: ndtr((mu - best - xi) / np.maximum(sigma, 1e-12))
        if how == "ucb":  # GP-UCB with beta_t = 0.2 d log(2t) (Kandasamy et al.)
            beta = 0.2 * max(1, len(self.space.dims)) * math.log(2 * max(1, n))
            return lambda mu, sigma: mu + math.sqrt(beta) * sigma
        return lambda mu, sigma: expected_improvement(mu, sigma, best, xi)

    def _maximise(self, gp, cands: np.ndarray, acq, seen: set) -> np.ndarray | None:
        r = self._argmax(gp, cands, acq, seen)
        if r is not None:  # refine around the winner
            r = self._argmax(gp, np.vstack([r[None, :], self._candidates([r], (0.02,), n_uniform=0)]), acq, seen)
        if r is not None and self.polish:
            r = self._polish(gp, r, acq, seen)
        return r

    def _local_candidates(self, anchors: list[np.ndarray]) -> np.ndarray:
        """Dense local candidates around the best points: Gaussian perturbations at several radii and moves
        along one coordinate at a time (a narrow valley along an axis is found by these)."""
        d = len(self.space.dims)
        parts = []
        for a in anchors:
            a = np.clip(a, 0.0, 1.0)
            for s in (0.3, 0.1, 0.03, 0.01):
                parts.append(a + self.rng.normal(0.0, s, (60, d)))
            c = np.repeat(a[None, :], 40 * d, axis=0)
            for j in range(d):
                c[40 * j:40 * (j + 1), j] += self.rng.normal(0.0, 1.0, 40) * np.repeat([0.2, 0.07, 0.02, 0.007], 10)
            parts.append(c)
        return np.clip(np.vstack(parts), 0.0, 1.0) if parts else np.zeros((0, d))

    def _polish(self, gp, r: np.ndarray, acq, seen: set) -> np.ndarray:
        """L-BFGS-B on the acquisition over the continuous coordinates, from the best candidate."""
        from scipy.optimize import minimize

        free = [j for j, dim in enumerate(self.space.dims) if dim.kind == "Continuous"]
        if not free:
            return r

        def f(z):
            c = r.copy()
            c[free] = z
            _, x = self.space.snap(c[None, :])
            mu, sigma = gp.predict(x, return_std=True)
            return -float(acq(mu, sigma)[0])

        res = minimize(f, r[free], method="L-BFGS-B", bounds=[(0.0, 1.0)] * len(free),
                       options={"maxiter": 30, "eps": 1e-4})
        if res.fun < f(r[free]):
            c = r.copy()
            c[free] = res.x
            snapped, _ = self.space.snap(c[None, :])
            if self.space.key(self.space.point(snapped[0])) not in seen:
                return snapped[0]
        return r

    def _update_region(self, obs: list[Observation]) -> None:
        """Grow the trust region after consecutive improvements, shrink it after consecutive failures."""
        new = [o for o in obs if self.space.key(o.point) not in self._counted]
        for o in new:
            self._counted.add(self.space.key(o.point))
            if self._best is None or o.score > self._best + 1e-3 * abs(self._best):
                self._succ, self._fail = self._succ + 1, 0
            else:
                self._succ, self._fail = 0, self._fail + 1
            self._best = o.score if self._best is None else max(self._best, o.score)
            if self._succ >= self.tr_success:
                self.length, self._succ = min(1.6, 2 * self.length), 0
            elif self._fail >= self.tr_failure:
                self.length, self._fail = self.length / 2, 0
                if self.length < self.tr_min:
                    self.length = self.tr_start

    def _region_candidates(self, gp, center: np.ndarray) -> np.ndarray:
        """Uniform candidates in the trust region: a box around the best point, wider along inputs the
        surrogate finds smooth (longer length scales), plus a few from the whole space."""
        space = self.space
        d = len(space.dims)
        center = np.clip(center, 0.0, 1.0)
        try:
            ls = np.atleast_1d(gp.kernel_.k1.k2.length_scale).astype(float)
        except AttributeError:
            ls = np.ones(space.width)
        col, weights = 0, np.ones(d)
        for j, dim in enumerate(space.dims):
            weights[j] = float(np.mean(ls[col:col + dim.width])) if len(ls) == space.width else 1.0
            col += dim.width
        weights = weights / np.exp(np.mean(np.log(weights)))
        half = np.clip(self.length * weights / 2, 0.0, 0.5)
        n_global = int(self.n_candidates * self.global_frac)
        n_local = self.n_candidates - n_global
        box = center + (2 * self.rng.random((n_local, d)) - 1) * half
        for j, dim in enumerate(space.dims):  # categorical: keep the incumbent's value, or not
            if dim.categorical:
                other = self.rng.random(n_local) < min(1.0, self.length / 2)
                box[other, j] = self.rng.random(int(other.sum()))
                box[~other, j] = center[j]
        return np.vstack([np.clip(box, 0.0, 1.0), self.rng.random((n_global, d))])

    def _candidates(self, anchors: list[np.ndarray], scales: tuple[float, ...], n_uniform: int | None = None
                    ) -> np.ndarray:
        d = len(self.space.dims)
        n_uniform = self.n_candidates if n_uniform is None else n_uniform
        parts = [self.rng.random((n_uniform, d))]
        per = max(1, self.n_candidates // 4 // max(1, len(anchors) * len(scales)))
        for a in anchors:
            a = np.clip(a, 0.0, 1.0)
            for s in scales:
                c = a + self.rng.normal(0.0, s, (per, d))
                for j, dim in enumerate(self.space.dims):  # categorical: switch value now and then
                    if dim.categorical:
                        flip = self.rng.random(per) < 0.2
                        c[flip, j] = self.rng.random(int(flip.sum()))
                parts.append(np.clip(c, 0.0, 1.0))
        return np.vstack(parts)

    def _argmax(self, gp, cands: np.ndarray, acq, seen: set) -> np.ndarray | None:
        """The candidate of highest acquisition whose hyperparameters were not tried yet (snapped coordinates)."""
        snapped, x = self.space.snap(cands)
        mu, sigma = gp.predict(x, return_std=True)
        ei = acq(mu, sigma)
        for i in np.argsort(-ei, kind="stable")[:200]:
            if self.space.key(self.space.point(snapped[i])) not in seen:
                return snapped[i]
        return None


def _map_optimizer(width: int):
    """L-BFGS-B on the log marginal likelihood plus a Gamma(3, 6) prior on each length scale (mean 0.5
    of the unit cube), so a handful of observations cannot drive the length scales to their bounds."""
    from scipy.optimize import minimize

    idx = slice(1, 1 + width)  # theta: log constant, log length scales, log noise

    def optimizer(obj_func, initial_theta, bounds):
        def f(theta):
            value, grad = obj_func(theta)
            prior, prior_grad = surrogate.length_scale_prior(theta[idx])
            grad = np.array(grad, dtype=float)
            grad[idx] += prior_grad
            return value + prior, grad

        res = minimize(f, initial_theta, method="L-BFGS-B", jac=True, bounds=bounds)
        return res.x, res.fun

    return optimizer


def _one_thread():
    """BLAS on one thread: the surrogate's matrices are tiny, and a thread team only spins."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _transform(y: np.ndarray, how: str) -> np.ndarray:
    if how == "copula":  # ranks to normal quantiles: the surrogate models the order of the scores
        from scipy.stats import norm, rankdata

        return norm.ppf((rankdata(y) - 0.5) / len(y))
    if how == "warp":
        return _warp_scores(y)
    if how == "log":  # distance below the best score, logged: resolution where the scores are best
        gap = y.max() - y.astype(float)
        scale = float(np.median(gap[gap > 0])) if np.any(gap > 0) else 1.0
        return -np.log(gap + 0.1 * scale)
    return y.astype(float)


def _warp_scores(y: np.ndarray) -> np.ndarray:
    """Tame a long tail of very bad scores (diverged losses) so they do not flatten the surrogate.

    Scores below the lower quartile minus 1.5 IQR are pulled in logarithmically: their order is
    kept, their distance shrinks.
    """
    if len(y) < 4:
        return y.astype(float)
    q1, q3 = np.percentile(y, [25, 75])
    iqr = q3 - q1
    if iqr <= 0:
        return y.astype(float)
    floor = q1 - 1.5 * iqr
    out = y.astype(float).copy()
    low = out < floor
    out[low] = floor - iqr * np.log1p((floor - out[low]) / iqr)
    return out


class Rungs:
    """Hyperband's successive halving, asynchronous: rungs at MinResource x eta^k epochs below MaxResource."""

    def __init__(self, min_resource: int, max_resource: int, eta: int = 3):
        self.min_resource = min_resource
        self.max_resource = max_resource
        self.eta = eta
        self.levels: list[int] = []
        r = float(min_resource)
        while r < max_resource:
            self.levels.append(int(round(r)))
            r *= eta
        self.scores: dict[int, dict[str, float]] = {lvl: {} for lvl in self.levels}

    def keep(self, job: str, epoch: int, score: float | None) -> bool:
        """Whether a job that just finished ``epoch`` goes on (False also once it reaches MaxResource)."""
        if epoch >= self.max_resource:
            return False
        if epoch not in self.scores or score is None or not math.isfinite(score):
            return True
        rung = self.scores[epoch]
        rung[job] = score
        k = math.ceil(len(rung) / self.eta)
        kth = sorted(rung.values(), reverse=True)[k - 1]
        return score >= kth


def median_rule(current: float, earlier: list[list[float]], min_jobs: int = 3) -> bool:
    """Early stopping Auto: stop when ``current`` is worse than the median of the earlier jobs' running
    averages up to the same epoch. ``earlier`` holds each earlier job's scores for epochs 1..e (jobs
    that have not reached epoch e are left out by the caller). Needs ``min_jobs`` earlier jobs."""
    averages = [sum(s) / len(s) for s in earlier if s]
    if len(averages) < min_jobs:
        return False
    return current < float(np.median(averages))
