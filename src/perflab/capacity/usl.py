"""The Universal Scalability Law, fitted to (concurrency, throughput) measurements.

X(N) = lambda*N / (1 + sigma*(N - 1) + kappa*N*(N - 1)) (Gunther): sigma is contention (the
serial fraction), kappa coherency (crosstalk), lambda the throughput of one user. lambda is
fitted like sigma and kappa, so data without an N = 1 point fit as well (Schwartz's users
often lack it). The fit is bounded non-linear least squares (sigma, kappa >= 0, lambda > 0)
from a start taken from the linearised form, as the R package ``usl`` (2.x) fits with
``nls``/``nlxb``; on its example data sets the coefficients agree with it to 1e-6 or to the
digits it prints (tests/unit/capacity/test_usl.py).

Intervals are Wald intervals: standard errors from the Jacobian at the optimum (the same
standard errors as R's ``summary``) times Student's t at 97.5 % on n - 3 degrees of freedom.
R's ``confint`` multiplies the same errors by ``qt(level, n - 1)``, a narrower interval (about
90 %); ours is the conventional 95 %. Predictions get delta-method intervals of the mean.

A coefficient that ends on its bound (sigma = 0 or kappa = 0) is a result, not an error:
kappa = 0 means no retrograde region was seen (no finite peak), and the notes say so.
Nothing here returns NaN: undefined figures are None in :meth:`UslFit.to_json`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import optimize, stats

from perflab.errors import UsageError

__all__ = ["UslError", "UslFit", "fit_usl", "usl_throughput"]

FloatArray = npt.NDArray[np.float64]
PARAMS = ("sigma", "kappa", "lambda")


class UslError(UsageError):
    """The data cannot support a USL fit; the message says why and what would help."""


def usl_throughput(n: npt.ArrayLike, sigma: float, kappa: float, lam: float) -> FloatArray:
    """X(N) for the given coefficients."""
    n = np.asarray(n, dtype=np.float64)
    return np.asarray(lam * n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0)))


def _jacobian(n: FloatArray, sigma: float, kappa: float, lam: float) -> FloatArray:
    d = 1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0)
    x = lam * n / d
    return np.column_stack([-x * (n - 1.0) / d, -x * n * (n - 1.0) / d, n / d])


@dataclass(frozen=True)
class UslFit:
    """A fitted USL: coefficients, their 95 % intervals, goodness of fit and derived figures."""

    sigma: float
    kappa: float
    lambda_: float
    ci: dict[str, tuple[float, float] | None]
    rse: float | None
    r2: float
    n: int
    df: int
    covariance: FloatArray | None
    concurrency: FloatArray
    throughput: FloatArray
    notes: list[str] = field(default_factory=list)

    @property
    def peak_concurrency(self) -> float:
        """N* = sqrt((1 - sigma)/kappa), at least 1; infinite when kappa = 0 (no turn down)."""
        if self.kappa <= 0.0:
            return math.inf
        return max(math.sqrt(max(1.0 - self.sigma, 0.0) / self.kappa), 1.0)

    @property
    def peak_throughput(self) -> float:
        peak = self.peak_concurrency
        if math.isinf(peak):
            return self.limit_throughput if self.limit_throughput is not None else math.inf
        return float(usl_throughput(peak, self.sigma, self.kappa, self.lambda_))

    @property
    def limit_throughput(self) -> float | None:
        """lambda/sigma, the ceiling contention alone would impose; None when sigma = 0."""
        return self.lambda_ / self.sigma if self.sigma > 0.0 else None

    def predict(
        self, n: npt.ArrayLike, level: float = 0.95
    ) -> tuple[FloatArray, FloatArray | None, FloatArray | None]:
        """Throughput at ``n`` with a delta-method interval of the mean (None without dof)."""
        n = np.atleast_1d(np.asarray(n, dtype=np.float64))
        x = usl_throughput(n, self.sigma, self.kappa, self.lambda_)
        if self.covariance is None or self.df <= 0:
            return x, None, None
        jac = _jacobian(n, self.sigma, self.kappa, self.lambda_)
        se = np.sqrt(np.einsum("ij,jk,ik->i", jac, self.covariance, jac))
        t = float(stats.t.ppf(0.5 + level / 2.0, self.df))
        return x, x - t * se, x + t * se

    def latency(self, n: npt.ArrayLike) -> FloatArray:
        """Response time R = N / X(N) (Little's law), in the inverse unit of throughput."""
        n = np.asarray(n, dtype=np.float64)
        return np.asarray(n / usl_throughput(n, self.sigma, self.kappa, self.lambda_))

    def concurrency_for_throughput(self, x: float) -> float | None:
        """The smallest N with X(N) = x; None when x is beyond the peak."""
        if x <= 0.0 or x > self.peak_throughput * (1.0 + 1e-12):
            return None
        # lambda*N = x*D(N) is a quadratic in N: a N^2 + b N + c = 0, smallest root
        a, b, c = (
            x * self.kappa,
            x * self.sigma - x * self.kappa - self.lambda_,
            x * (1 - self.sigma),
        )
        if a == 0.0:  # no coherency term: linear in N, no solution at or past lambda/sigma
            return -c / b if b < 0.0 else None
        disc = max(b * b - 4.0 * a * c, 0.0)
        root = (-b - math.sqrt(disc)) / (2.0 * a)
        return root if root > 0.0 else None

    def latency_at_throughput(self, x: float) -> float | None:
        """The latency form: R = N/x at the smallest N that delivers throughput x."""
        n = self.concurrency_for_throughput(x)
        return None if n is None else n / x

    def to_json(self) -> dict[str, Any]:
        """The issue's keys plus extras; undefined figures (no peak, no interval) are None."""

        def num(v: float | None) -> float | None:
            return None if v is None or not math.isfinite(v) else float(v)

        return {
            "sigma": self.sigma,
            "kappa": self.kappa,
            "lambda": self.lambda_,
            "peak_concurrency": num(self.peak_concurrency),
            "peak_throughput": num(self.peak_throughput),
            "limit_throughput": num(self.limit_throughput),
            "r2": self.r2,
            "rse": num(self.rse),
            "n_points": self.n,
            "ci": {k: (None if v is None else [v[0], v[1]]) for k, v in self.ci.items()},
            "notes": list(self.notes),
        }


def _validate(n: FloatArray, x: FloatArray) -> None:
    if n.ndim != 1 or n.shape != x.shape:
        raise UslError("concurrency and throughput must be two lists of the same length")
    if n.size < 3:
        raise UslError(
            f"a USL fit has 3 parameters and needs at least 3 points ({n.size} given); "
            "measure more concurrency levels, e.g. 1, 2, 4, 8, 16, 32"
        )
    if not (np.isfinite(n).all() and np.isfinite(x).all()):
        raise UslError(
            "concurrency and throughput must be finite numbers (no NaN or inf); "
            "remove or re-measure those rows"
        )
    if (n <= 0).any():
        raise UslError(
            "concurrency must be positive: the USL is defined for N >= 1 users; "
            "drop rows with 0 (or negative) concurrency"
        )
    if (x < 0).any():
        raise UslError("throughput cannot be negative; check the throughput column")
    if np.unique(n).size < 3:
        raise UslError(
            "the USL needs at least 3 different concurrency levels (repeats of one level add "
            "no shape); measure more levels, e.g. 1, 2, 4, 8, 16, 32"
        )
    if np.ptp(x) <= 1e-12 * max(float(np.max(np.abs(x))), 1.0):
        raise UslError(
            "throughput does not vary with concurrency, so nothing scales to fit; "
            "measure from low concurrency (1-2 users) up to where throughput flattens"
        )


def _start(n: FloatArray, x: FloatArray) -> FloatArray:
    """lambda from the best per-user throughput at low N; sigma, kappa from the linearised form
    N/C(N) - 1 = sigma(N - 1) + kappaN(N - 1) with C = X/lambda, clipped to be feasible."""
    low = n <= np.min(n) * 1.0001
    lam = float(np.max(x[low] / n[low]))
    y = n * lam / np.maximum(x, 1e-300) - 1.0
    a = np.column_stack([n - 1.0, n * (n - 1.0)])
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    return np.array([min(max(coef[0], 1e-6), 0.99), max(coef[1], 1e-9), lam])


def _intervals(
    jacobian: FloatArray, coef: FloatArray, df: int, rse: float | None
) -> tuple[FloatArray | None, dict[str, tuple[float, float] | None]]:
    """Wald intervals with Student's t on n - 3 dof, truncated at 0; none when exact or singular."""
    ci: dict[str, tuple[float, float] | None] = dict.fromkeys(PARAMS)
    if df <= 0 or rse is None:
        return None, ci
    try:
        covariance = np.asarray(np.linalg.inv(jacobian.T @ jacobian) * rse**2, dtype=np.float64)
    except np.linalg.LinAlgError:
        return None, ci
    if not np.isfinite(covariance).all():
        return None, ci
    t = float(stats.t.ppf(0.975, df))
    for i, name in enumerate(PARAMS):
        half = t * math.sqrt(max(float(covariance[i, i]), 0.0))
        # truncated at the bound: a negative sigma or kappa is outside the model
        ci[name] = (max(float(coef[i]) - half, 0.0), float(coef[i]) + half)
    return covariance, ci


def _notes(n: FloatArray, sigma: float, kappa: float, df: int) -> list[str]:
    notes = []
    if df <= 0:
        notes.append("3 points fit exactly: measure a 4th concurrency level for intervals")
    if sigma == 0.0:
        notes.append(
            "sigma is at its bound 0 (an unbounded fit would make it negative: better than "
            "linear scaling at low N, often a slow or missing N = 1 point or warm-up in the "
            "first steps); measure N = 1 and 2 with the same warm-up as the rest"
        )
    if sigma >= 1.0:
        notes.append(
            "sigma >= 1: throughput never rises above the single-user rate; check that the "
            "load generator is not the bottleneck"
        )
    if kappa == 0.0:
        notes.append(
            "kappa is 0 (no coherency delay seen): no peak within reach of the data; "
            "measure at higher concurrency to find where throughput turns down"
        )
    if n.min() > 1:
        notes.append("no N = 1 point: lambda is extrapolated from the fit")
    return notes


def fit_usl(concurrency: npt.ArrayLike, throughput: npt.ArrayLike) -> UslFit:
    """Fit the USL; raises :class:`UslError` with why and what data would help."""
    n = np.asarray(concurrency, dtype=np.float64)
    x = np.asarray(throughput, dtype=np.float64)
    _validate(n, x)

    def residuals(p: FloatArray) -> FloatArray:
        return usl_throughput(n, p[0], p[1], p[2]) - x

    def jac(p: FloatArray) -> FloatArray:
        return _jacobian(n, p[0], p[1], p[2])

    best = None
    for start in (_start(n, x), np.array([0.05, 1e-4, float(np.max(x / n))])):
        try:
            res = optimize.least_squares(
                residuals, start, jac=jac, bounds=([0.0, 0.0, 1e-300], [np.inf, np.inf, np.inf]),
                method="trf", xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=20000, x_scale="jac",
            )  # fmt: skip
        except (ValueError, FloatingPointError):
            continue
        if res.success and (best is None or res.cost < best.cost):
            best = res
    if best is None or not np.isfinite(best.x).all():
        raise UslError(
            "the USL fit did not converge; check that throughput first rises with concurrency "
            "and add points around where it flattens"
        )
    sigma, kappa, lam = (float(v) for v in best.x)
    # On the bound (the solver's active set, or numerically there): exactly 0, with a note.
    sigma = 0.0 if best.active_mask[0] != 0 or sigma <= 1e-12 else sigma
    kappa = 0.0 if best.active_mask[1] != 0 or kappa <= 1e-15 else kappa
    sse = float(np.sum(best.fun**2))
    sst = float(np.sum((x - x.mean()) ** 2))
    df = n.size - 3
    rse = math.sqrt(sse / df) if df > 0 else None
    covariance, ci = _intervals(jac(best.x), best.x, df, rse)
    notes = _notes(n, sigma, kappa, df)
    return UslFit(
        sigma=sigma, kappa=kappa, lambda_=lam, ci=ci, rse=rse,
        r2=1.0 - sse / sst if sst > 0 else 1.0, n=int(n.size), df=df,
        covariance=covariance, concurrency=n, throughput=x, notes=notes,
    )  # fmt: skip
