"""USL fits: the R package's published results come back, intervals cover, bad data is refused.

Reference values are from the R package ``usl`` (github.com/smoeding/usl, version 2.x, R 3.6.2),
its saved test outputs ``tests/*.Rout.save``:

- specsdm91 (``data/specsdm91.rda``; the values below reproduce its ``fitted.Rout.save`` plus
  ``residuals.Rout.save`` and ``efficiency.Rout.save``, commit 0c22191b922e):
  ``optimal.scalability`` = 1/sigma = 36.06401, ``limit.scalability`` = lambda/sigma = 3245.589
  and lambda/0.001 = 89995.23 (``optimal-``/``limit-scalability.Rout.save``, commit c3aedbadfd48);
  ``summary`` (commit 0c22191b922e): sigma 2.773e-02, kappa 1.044e-04, lambda 9.000e+01, standard
  errors 9.122e-03, 1.988e-05, 1.421e+01, residual standard error 82.85 on 4 df, R² 0.9896;
  ``residuals``: -25.10 -81.66 111.09 3.05 -49.99 -46.60 56.00; ``peak.scalability`` 97 (2 digits).
- raytracer (``data/raytracer.rda``), ``confint.Rout.save`` (commit 0c22191b922e): coefficients
  0.0578, 0.0000, 21.8488; intervals sigma [0.033677, 0.081864], kappa [-0.000214, 0.000214],
  lambda [17.868380, 25.829306]. R's ``confint`` is estimate ± se * qt(level, n - 1); we check
  our standard errors through that formula and report the conventional t(0.975, n - 3) interval.
"""

from __future__ import annotations

import json
import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from scipy import stats

from perflab.capacity import UslError, fit_usl, usl_throughput
from perflab.errors import UsageError

SPEC_N = [1, 18, 36, 72, 108, 144, 216]
SPEC_X = [64.9, 995.9, 1652.4, 1853.2, 1828.9, 1775.0, 1702.2]
RAY_N = [1, 4, 8, 12, 16, 20, 24, 28, 32, 48, 64]
RAY_X = [20, 78, 130, 170, 190, 200, 210, 230, 260, 280, 310]

N = np.array([1, 2, 4, 8, 16, 24, 32, 48, 64], dtype=float)
TRUE = (0.03, 0.0005, 25.0)


def _data(seed: int, noise: float = 0.01, n: np.ndarray = N) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = usl_throughput(n, *TRUE) * (1.0 + rng.normal(0.0, noise, n.size))
    return n, x


def _se(fit: Any) -> np.ndarray:
    return np.sqrt(np.diag(fit.covariance))


def test_specsdm91_matches_r_usl() -> None:
    fit = fit_usl(SPEC_N, SPEC_X)
    assert 1.0 / fit.sigma == pytest.approx(36.06401, rel=1e-6)
    assert fit.lambda_ == pytest.approx(89.99523, rel=1e-6)
    assert fit.limit_throughput == pytest.approx(3245.589, rel=1e-6)
    assert fit.kappa == pytest.approx(1.044e-04, abs=0.0005e-04)  # R prints 4 digits
    residuals = np.asarray(SPEC_X) - fit.predict(SPEC_N)[0]
    r_residuals = [-25.10, -81.66, 111.09, 3.05, -49.99, -46.60, 56.00]
    assert residuals == pytest.approx(r_residuals, abs=0.0051)  # pins kappa to ~1e-6
    assert _se(fit) == pytest.approx([9.122e-03, 1.988e-05, 1.421e01], rel=1e-4 * 6)
    assert fit.rse == pytest.approx(82.85, abs=0.005)
    assert fit.df == 4
    assert fit.r2 == pytest.approx(0.9896, abs=0.00005)
    assert round(fit.peak_concurrency) == 97  # signif(peak.scalability(u), 2)
    assert fit.peak_concurrency == pytest.approx(math.sqrt((1 - fit.sigma) / fit.kappa))
    peak_x = usl_throughput(fit.peak_concurrency, fit.sigma, fit.kappa, fit.lambda_)
    assert fit.peak_throughput == pytest.approx(float(peak_x))
    assert fit.peak_throughput > max(SPEC_X)
    assert fit.notes == []


def test_raytracer_matches_r_usl_with_kappa_on_its_bound() -> None:
    fit = fit_usl(RAY_N, RAY_X)
    q = float(stats.t.ppf(0.95, len(RAY_N) - 1))  # R's confint quantile
    se = _se(fit)
    r_ci = {"sigma": (0.033677, 0.081864), "lambda": (17.868380, 25.829306)}
    for i, name in ((0, "sigma"), (2, "lambda")):
        value = (fit.sigma, fit.kappa, fit.lambda_)[i]
        low, high = r_ci[name]
        assert value == pytest.approx((low + high) / 2, rel=1e-4)
        assert value - q * se[i] == pytest.approx(low, rel=1e-4)
        assert value + q * se[i] == pytest.approx(high, rel=1e-4)
    assert fit.lambda_ == pytest.approx(21.8488, rel=1e-5)
    assert fit.kappa == 0.0
    assert q * se[1] == pytest.approx(0.000214, rel=3e-3)  # R prints 3 digits
    assert fit.peak_concurrency == math.inf
    assert any("kappa is at its bound" in note or "kappa is 0" in note for note in fit.notes)
    # our interval: t(0.975, n - 3), truncated at the bound 0
    t = float(stats.t.ppf(0.975, len(RAY_N) - 3))
    assert fit.ci["sigma"] == pytest.approx((fit.sigma - t * se[0], fit.sigma + t * se[0]))
    assert fit.ci["kappa"] == pytest.approx((0.0, t * se[1]))


def test_exact_data_gives_the_coefficients_back() -> None:
    fit = fit_usl(N, usl_throughput(N, *TRUE))
    assert (fit.sigma, fit.kappa, fit.lambda_) == pytest.approx(TRUE, rel=1e-6)
    assert fit.peak_concurrency == pytest.approx(math.sqrt((1 - TRUE[0]) / TRUE[1]), rel=1e-6)
    assert fit.r2 == pytest.approx(1.0)


def test_round_trip_on_noisy_synthetic_data() -> None:
    fit = fit_usl(*_data(11, noise=0.005))
    assert fit.sigma == pytest.approx(TRUE[0], rel=0.2)
    assert fit.kappa == pytest.approx(TRUE[1], rel=0.1)
    assert fit.lambda_ == pytest.approx(TRUE[2], rel=0.02)


def test_intervals_cover_the_truth_most_of_the_time() -> None:
    """Least squares assumes equal noise at every N, so the check adds noise of one size."""
    covered = {"sigma": 0, "kappa": 0, "lambda": 0}
    mean_covered = 0
    exact = usl_throughput(N, *TRUE)
    for seed in range(200):
        rng = np.random.default_rng(seed)
        fit = fit_usl(N, exact + rng.normal(0.0, 3.0, N.size))
        for name, truth in zip(covered, TRUE, strict=True):
            ci = fit.ci[name]
            assert ci is not None
            covered[name] += ci[0] <= truth <= ci[1]
        _, low, high = fit.predict([40.0])
        assert low is not None and high is not None
        truth_40 = float(usl_throughput(40.0, *TRUE))
        mean_covered += bool(low[0] <= truth_40 <= high[0])
    assert all(180 <= c <= 198 for c in covered.values()), covered  # nominal 95 % of 200
    assert 180 <= mean_covered <= 198


def test_no_n1_point_still_fits_lambda() -> None:
    fit = fit_usl(*_data(3, n=N[2:]))
    assert fit.lambda_ == pytest.approx(TRUE[2], rel=0.1)
    assert any("N = 1" in note for note in fit.notes)
    exact = fit_usl(N[2:], usl_throughput(N[2:], *TRUE))  # lambda is fitted, not read off N=1
    assert exact.lambda_ == pytest.approx(TRUE[2], rel=1e-6)


def test_specsdm91_without_its_n1_point() -> None:
    fit = fit_usl(SPEC_N[1:], SPEC_X[1:])
    assert fit.lambda_ == pytest.approx(90.0, rel=0.05)
    assert fit.peak_concurrency == pytest.approx(96.5, rel=0.05)


def test_prediction_band_and_latency_form() -> None:
    fit = fit_usl(*_data(5))
    x, low, high = fit.predict([10.0, 40.0])
    assert low is not None and high is not None
    assert (low < x).all() and (x < high).all()
    assert fit.latency([10.0])[0] == pytest.approx(10.0 / x[0])
    n = fit.concurrency_for_throughput(float(x[0]))
    assert n == pytest.approx(10.0, rel=1e-9)
    assert fit.latency_at_throughput(float(x[0])) == pytest.approx(10.0 / float(x[0]))
    # past the peak, the smaller of the two N that give the same throughput
    far = float(fit.predict([2 * fit.peak_concurrency])[0][0])
    below = fit.concurrency_for_throughput(far)
    assert below is not None and below < fit.peak_concurrency
    assert fit.concurrency_for_throughput(fit.peak_throughput * 1.1) is None
    assert fit.latency_at_throughput(fit.peak_throughput * 1.1) is None


def test_linear_data_has_no_peak_and_no_nan_in_json() -> None:
    fit = fit_usl(N, 10.0 * N / (1 + 0.02 * (N - 1)))
    doc = json.loads(json.dumps(fit.to_json(), allow_nan=False))
    assert doc["kappa"] == 0.0 and doc["peak_concurrency"] is None
    assert doc["peak_throughput"] == pytest.approx(10.0 / 0.02, rel=1e-4)  # the lambda/sigma limit
    assert any("kappa" in note for note in doc["notes"])
    assert fit.concurrency_for_throughput(400.0) == pytest.approx(
        400 * 0.98 / (10 - 400 * 0.02), rel=1e-6
    )
    assert fit.concurrency_for_throughput(600.0) is None  # beyond lambda/sigma


def test_three_points_fit_exactly_without_intervals() -> None:
    fit = fit_usl([1, 8, 32], usl_throughput([1, 8, 32], *TRUE))
    assert fit.lambda_ == pytest.approx(TRUE[2], rel=1e-6)
    doc = json.loads(json.dumps(fit.to_json(), allow_nan=False))
    assert doc["ci"] == {"sigma": None, "kappa": None, "lambda": None}
    assert doc["rse"] is None and any("4th" in note for note in doc["notes"])
    assert fit.predict([4.0])[1] is None


@pytest.mark.parametrize(
    ("n", "x", "message"),
    [
        ([1, 2], [10, 19], "needs at least 3 points"),
        ([0, 2, 4, 8], [1, 2, 3, 4], "must be positive"),
        ([-1, 2, 4, 8], [1, 2, 3, 4], "must be positive"),
        ([1, 2, 4, 8], [5, 5, 5, 5], "does not vary"),
        ([1, 1, 2, 2], [5, 5, 9, 9], "3 different"),
        ([1, 2, float("nan"), 8], [1, 2, 3, 4], "finite"),
        ([1, 2, 4], [1, 2, 3, 4], "same length"),
        ([1, 2, 4, 8], [1, -2, 3, 4], "negative"),
    ],
)
def test_bad_data_says_why(n: list[float], x: list[float], message: str) -> None:
    with pytest.raises(UslError, match=message) as info:
        fit_usl(n, x)
    assert isinstance(info.value, UsageError) and info.value.exit_code == 2


def test_a_fit_that_does_not_converge_says_what_would_help(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from scipy import optimize

    def failing(*_: Any, **__: Any) -> SimpleNamespace:
        return SimpleNamespace(success=False, x=np.array([0.1, 0.1, 1.0]), cost=1.0)

    monkeypatch.setattr(optimize, "least_squares", failing)
    with pytest.raises(UslError, match=r"did not converge.*add points"):
        fit_usl(SPEC_N, SPEC_X)
