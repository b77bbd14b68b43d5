"""Reference-quantile bins and the population stability index (PSI).

Bins are defined by their inner edges e_1 < ... < e_k: bin 0 is (-inf, e_1), bin i is [e_i, e_{i+1}),
bin k is [e_k, +inf). The outer bins are open so a live value beyond the reference's range still lands
in a bin (and moves the PSI) instead of being dropped. Edges are the reference's quantiles: each bin
holds about the same share of the reference, so a small shift moves mass out of every bin at once. On a
skewed feature (lognormal) equal-width bins put almost all the mass in the first one or two bins, and a
0.05-sigma shift barely moves it between them: quantile bins see it, equal-width bins hide it.
"""

from __future__ import annotations

import numpy as np

from shipyard.core.errors import InvalidInput

DEFAULT_BINS = 10
# Share given to an empty bin so the log ratio stays finite; 1e-4 is below one row in a 10k window.
DEFAULT_EPS = 1e-4


def quantile_edges(sorted_values: np.ndarray, bins: int = DEFAULT_BINS) -> np.ndarray:
    """Inner edges at the reference's 1/bins ... (bins-1)/bins quantiles, on reference values, no repeats."""
    if bins < 2:
        raise InvalidInput(f"bins must be at least 2, got {bins}")
    if sorted_values.size == 0:
        raise InvalidInput("cannot place bin edges on an empty sample")
    probs = np.arange(1, bins) / bins
    quantiles = np.quantile(sorted_values, probs)
    # Each edge moves up to the nearest reference value (less than one gap between neighbouring values
    # of a continuous feature), and repeats are dropped: a discrete feature gets one bin per value
    # instead of edges between its values that no reference value could fall in.
    return np.unique(sorted_values[np.searchsorted(sorted_values, quantiles, side="left")])


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin of unsorted finite values: len(edges) + 1 bins, the outer two open-ended."""
    index = np.searchsorted(edges, values, side="right")
    return np.bincount(index, minlength=edges.size + 1).astype(np.int64)


def bin_counts_sorted(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The same counts as `bin_counts` for values already sorted: one binary search per edge."""
    below = np.searchsorted(sorted_values, edges, side="left")
    return np.diff(np.concatenate(([0], below, [sorted_values.size]))).astype(np.int64)


def psi(reference_counts: np.ndarray, live_counts: np.ndarray, eps: float = DEFAULT_EPS) -> float:
    """PSI = sum((live% - ref%) * ln(live% / ref%)); shares below eps are raised to eps."""
    ref = np.asarray(reference_counts, dtype=np.float64)
    live = np.asarray(live_counts, dtype=np.float64)
    if ref.shape != live.shape or ref.ndim != 1:
        raise InvalidInput(f"PSI needs two count vectors of one length, got {ref.shape} and {live.shape}")
    if ref.sum() <= 0 or live.sum() <= 0:
        raise InvalidInput("PSI needs at least one counted value on each side")
    if not eps > 0:
        raise InvalidInput(f"eps must be positive, got {eps}")
    p = np.maximum(ref / ref.sum(), eps)
    q = np.maximum(live / live.sum(), eps)
    return float(np.sum((q - p) * np.log(q / p)))
