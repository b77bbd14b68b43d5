"""When a difference counts as drift: significance AND an effect size big enough to matter.

A p-value alone answers "is there any difference at all?". With 100k reference rows and 1M live rows
it says yes to differences nobody would act on, and real data is never exactly stationary. An effect
size alone answers "is it big?", but on a small window noise alone makes it big. So a feature is
flagged only when both hold:

    numeric:      KS p < alpha'  AND  (KS D > ks_statistic  OR  PSI > psi)
    categorical:  chi-square p < alpha'  AND  JS distance > js_distance

where alpha' is alpha divided by the number of features compared (Bonferroni): alpha is then the chance
that a window with no drift at all raises the overall flag, whatever the number of features.

The defaults, and why
---------------------
ks_statistic = 0.01. The KS statistic D is the largest change, over every cut-off t, in the share of
rows below t: D = 0.01 means some rule "x > t" now fires for 1 percentage point more (or fewer) of the
rows. A shift of s standard deviations gives D of about s * sigma * f_max (f_max the peak density): a
0.05-sigma shift gives D = 0.020 on a normal feature, 0.014 on a uniform one and about 0.07 on a
lognormal(0, 1) one (the peak sits near zero); all above 0.01. The null distribution, measured with
bench/drift.py --null-runs on unchanged features (14 numeric features x 20 seeds): at 100k reference
vs 1M live rows D stays below 0.0065 (theory: 1.95 / sqrt(n m / (n + m)) = 0.0065 at the 99.9th
percentile); at 100k vs 100k below 0.0087. 0.01 sits clear of that noise and under every 0.05-sigma
shift. Below about 100k live rows the noise itself exceeds 0.01 and the p-value does the guarding.

psi = 0.1. The rule of thumb reads PSI < 0.1 as stable, 0.1-0.25 as a moderate shift, > 0.25 as a major
one. It is the second route to a flag, for changes of shape that KS sees poorly (mass moving between the
tails). It is deliberately not the sensitive route: PSI grows with the square of a shift (about s**2 on
10 quantile bins, 0.002 for a 0.05-sigma shift of a normal), so a threshold low enough to catch small
shifts would sit in the noise of small windows (about 9 * (1/n + 1/m): 0.0009 at 100k vs 100k,
0.009 at a 1k-row window). Measured null at 100k vs 1M: below 0.0004.

js_distance = 0.02 (base 2). Jensen-Shannon distance is sqrt of the JS divergence; for small changes
JS divergence ~ sum((p - q)**2 / (p + q)) / (4 ln 2). Moving one percentage point of rows between two
categories that each hold 10% gives 0.019; moving two points gives 0.038. Its null grows with the
number of categories k, about sqrt(chi2_{k-1} (1/n + 1/m) / (8 ln 2)): at 100k vs 1M rows with 30
categories, 0.011 at the 99.9th percentile (measured: below that), at 100k vs 100k 0.0145. 0.02 keeps
the same "about one percentage point" reading as the KS threshold and stays above the noise for up to
about 50 categories at 100k rows a side.

alpha = 0.01 family-wise. With the effect thresholds above, a large window is protected by the effect
size and alpha matters on small windows, where a false alarm per day per model adds up: 0.01 over all
features means about one false overall flag in a hundred unchanged windows.

Data-quality thresholds: missing_increase = 0.01 (1 percentage point more missing values than the
reference had); out_of_range_share = 0.001 (outside the reference's min..max: with no change, the chance
that a live value lands outside n reference values is 2/(n+1), 2e-5 at 100k, so 0.1% is a real change);
any value outside a declared range is a finding; unseen_share = 0.001 for new categories.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shipyard.core.errors import InvalidInput


@dataclass(frozen=True)
class DriftThresholds:
    """Decision thresholds; every comparison takes one (defaults explained in the module docstring)."""

    alpha: float = 0.01
    correction: Literal["bonferroni", "none"] = "bonferroni"
    ks_statistic: float = 0.01
    psi: float = 0.1
    js_distance: float = 0.02
    min_drift_share: float = 0.0
    missing_increase: float = 0.01
    out_of_range_share: float = 0.001
    unseen_share: float = 0.001

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise InvalidInput(f"alpha must be between 0 and 1, got {self.alpha}")
        if self.correction not in ("bonferroni", "none"):
            raise InvalidInput(f"correction must be 'bonferroni' or 'none', got {self.correction!r}")
        for name in (
            "ks_statistic",
            "psi",
            "js_distance",
            "min_drift_share",
            "missing_increase",
            "out_of_range_share",
            "unseen_share",
        ):
            value = getattr(self, name)
            if not 0 <= value <= (1 if name != "psi" else float("inf")):
                raise InvalidInput(f"{name} must be between 0 and 1, got {value}")

    def feature_alpha(self, features: int) -> float:
        """The significance level one feature's test is held to when `features` are compared."""
        if self.correction == "bonferroni" and features > 1:
            return self.alpha / features
        return self.alpha
