"""When a difference counts as drift: significance AND an effect size big enough to matter.

A p-value alone answers "is there any difference at all?". With 100k reference rows and 1M live rows
it says yes to differences nobody would act on, and real data is never exactly stationary. An effect
size alone answers "is it big?", but on a small window noise alone makes it big. So a feature is
flagged only when both hold:

    numeric:      KS p < alpha'  AND  (KS D > ks_statistic  OR  PSI > psi)
    categorical:  chi-square p < alpha'  AND  JS distance > js_distance

where alpha' is alpha divided by the number of features compared (Bonferroni): alpha then bounds the chance
that a window with no drift at all raises the overall flag, whatever the number of features.

The defaults, and why
---------------------
The null distribution was measured with `bench/drift.py --null-runs 20`: the benchmark's 20 features
(14 numeric, 6 categorical with 5 to 30 levels) drawn 20 times with no change at all, at 100k reference
rows against 100k and against 1M live rows. Maxima over those 280 numeric and 120 categorical values:

                        100k vs 100k    100k vs 1M
    KS D                0.0083          0.0060      (theory, 99.9th pct: 1.95 / sqrt(nm/(n+m)) =
                                                     0.0087 and 0.0065)
    PSI, 10 bins        0.0005          0.0002
    JS distance         0.0128          0.0092
    features flagged    0 of 400        0 of 400    (p < 0.01 alone: about 1%, as it should be)

ks_statistic = 0.01. The KS statistic D is the largest change, over every cut-off t, in the share of
rows below t: D = 0.01 means some rule "x > t" now fires for 1 percentage point more (or fewer) of the
rows. A shift of s standard deviations gives D of about s * sigma * f_max (f_max the peak density): a
0.05-sigma shift gives D = 0.020 on a normal feature, 0.014 on a uniform one and about 0.07 on a
lognormal(0, 1) one, whose peak sits near zero (the benchmark measures 0.020, 0.017, 0.070 and 0.027
for lognormal(0, 0.5)). 0.01 sits above the null's maximum at both sizes and under every 0.05-sigma
shift. Below about 100k live rows the null itself passes 0.01, and the p-value does the guarding.

psi = 0.1. The rule of thumb reads PSI < 0.1 as stable, 0.1-0.25 as a moderate shift, > 0.25 as a major
one. It is the second route to a flag, for changes of shape that KS sees poorly (mass moving between the
tails), and deliberately not the sensitive one: PSI grows with the square of a shift (about s**2 on 10
quantile bins: 0.0025 for a 0.05-sigma shift of a normal, 0.064 for lognormal(0, 1)), and its null is
about chi2_9 * (1/n + 1/m): 0.0002 at 100k vs 100k but 0.009 on average at a 1k-row window, so a
threshold low enough to catch small shifts would fire on the noise of small windows.

js_distance = 0.02 (base 2). Jensen-Shannon distance is sqrt of the JS divergence; for small changes
the divergence is about sum((p - q)**2 / (p + q)) / (4 ln 2). Moving one percentage point of rows
between two categories that each hold 10% gives 0.019; moving two gives 0.038: the same "about one
percentage point" reading as the KS threshold. Its null grows with the number of categories k, about
sqrt(chi2_{k-1} (1/n + 1/m) / (8 ln 2)); measured above with up to 30 categories it stays under 0.013,
and it reaches 0.02 only past about 50 categories at 100k rows a side, where the p-value still guards.
The benchmark's perturbed categoricals (each share times a factor in [0.8, 1.2]) measure 0.030 and
0.049.

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
