"""Drift statistics: Shipyard against Evidently's default data-drift report and NannyML's univariate drift.

The data (seeded, generated before any clock starts): a 100,000-row reference and a 1,000,000-row live
table with 20 features. 14 numeric (normal, lognormal, uniform), four of them shifted in the live table
by 0.05 of their standard deviation (normal_0, lognormal_0, lognormal_1, uniform_0); 6 string
categoricals with 5 to 30 levels, two of them (cat_08, cat_20) with every level's share multiplied by a
seeded factor in [0.8, 1.2] and renormalised. Nothing else changes.

What each tool's time includes (median of --runs for Shipyard, one run each for the others by default):

    shipyard   build_profile(reference) + compare(profile, live): quantile bins, sorted reference,
               category counts, then KS (statistic and p-value), PSI, Wasserstein, chi-square, JS and the
               data-quality checks on every feature; the same DataFrames the others get (pandas in
               Shipyard's venv), and again with a dict of NumPy arrays
    evidently  Dataset.from_pandas for both tables + Report([DataDriftPreset()]).run(): its default
               methods (Wasserstein distance normed by the reference std for numeric, Jensen-Shannon for
               categorical, because the reference has more than 1000 rows); no HTML rendering
    nannyml    UnivariateDriftCalculator.fit(reference) + calculate(live) with KS and Wasserstein for
               numeric and chi-square and Jensen-Shannon for categorical, each table as one chunk
               (chunk_number=1), so it computes the same whole-window statistics as Shipyard. A second
               run with NannyML's default chunking (10 chunks per table) gives NannyML's own alerts:
               with one reference chunk its thresholds (reference mean + 3 std) have zero width.

Evidently and NannyML run in their own virtualenv (bench/.venv-drift, from bench/requirements-drift.txt)
as subprocesses of this script (it re-invokes itself with --worker); Shipyard runs in .venv. Statistics
computed the same way are checked for agreement (max absolute difference, target 1e-6): Evidently's
normed Wasserstein, its Jensen-Shannon distance (natural log; converted to base 2), and, called
directly outside the timed report, its KS p-value and categorical PSI; NannyML's chi-square statistic
and categorical JS. NannyML's KS and Wasserstein are binned estimates (10,000 equal-width bins) and
are printed without a target. Evidently's one-sample chi-square (not in its default report at this size)
is run too, to show what it flags.

Targets, PASS/FAIL each (exit code 0 either way; 2 on a setup error):

    Shipyard >= 20x faster than Evidently's default report, >= 2x faster than NannyML;
    Shipyard flags exactly the shifted and perturbed features (lognormal 0.05-sigma shift included);
    statistics agree with Evidently's and NannyML's exact ones to 1e-6.

    .venv/bin/python bench/drift.py --setup              # once: bench/.venv-drift from requirements-drift.txt
    .venv/bin/python bench/drift.py                      # the recorded run (~2 min; Evidently ~40 s of it)
    .venv/bin/python bench/drift.py --skip-baselines     # Shipyard alone, while developing
    .venv/bin/python bench/drift.py --null-runs 20       # null distribution of the statistics (~3 min)

Raw results go to bench/results/drift-<time>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

BENCH = Path(__file__).resolve().parent
DEFAULT_VENV = BENCH / ".venv-drift"

# name, distribution, parameters, shifted in the live table
NUMERIC = [
    ("normal_0", "normal", (0.0, 1.0), True),
    ("normal_1", "normal", (10.0, 2.0), False),
    ("normal_2", "normal", (-5.0, 0.5), False),
    ("normal_3", "normal", (100.0, 15.0), False),
    ("normal_4", "normal", (0.0, 1.0), False),
    ("lognormal_0", "lognormal", (0.0, 1.0), True),
    ("lognormal_1", "lognormal", (0.0, 0.5), True),
    ("lognormal_2", "lognormal", (1.0, 0.75), False),
    ("lognormal_3", "lognormal", (0.0, 1.0), False),
    ("lognormal_4", "lognormal", (2.0, 0.25), False),
    ("uniform_0", "uniform", (0.0, 1.0), True),
    ("uniform_1", "uniform", (-1.0, 1.0), False),
    ("uniform_2", "uniform", (0.0, 100.0), False),
    ("uniform_3", "uniform", (5.0, 6.0), False),
]
# name, levels, perturbed in the live table
CATEGORICAL = [
    ("cat_05", 5, False),
    ("cat_08", 8, True),
    ("cat_12", 12, False),
    ("cat_16", 16, False),
    ("cat_20", 20, True),
    ("cat_30", 30, False),
]
SHIFT_SIGMAS = 0.05
EXPECTED = sorted([n for n, _, _, s in NUMERIC if s] + [n for n, _, s in CATEGORICAL if s])


# -- data --------------------------------------------------------------------------------------------


def _std(dist: str, params: tuple[float, float]) -> float:
    a, b = params
    if dist == "normal":
        return b
    if dist == "lognormal":
        return math.sqrt((math.exp(b * b) - 1) * math.exp(2 * a + b * b))
    return (b - a) / math.sqrt(12)


def _draw(rng: np.random.Generator, dist: str, params: tuple[float, float], size: int) -> np.ndarray:
    a, b = params
    if dist == "normal":
        return rng.normal(a, b, size)
    if dist == "lognormal":
        return rng.lognormal(a, b, size)
    return rng.uniform(a, b, size)


def make_tables(seed: int, ref_rows: int, live_rows: int, drift: bool = True) -> tuple[dict[str, Any], ...]:
    """Seeded reference and live tables as dicts of NumPy arrays (strings as fixed-width unicode)."""
    rng = np.random.default_rng(seed)
    ref: dict[str, np.ndarray] = {}
    live: dict[str, np.ndarray] = {}
    for name, dist, params, shifted in NUMERIC:
        ref[name] = _draw(rng, dist, params, ref_rows)
        offset = SHIFT_SIGMAS * _std(dist, params) if (shifted and drift) else 0.0
        live[name] = _draw(rng, dist, params, live_rows) + offset
    for name, levels, perturbed in CATEGORICAL:
        labels = np.array([f"{name}_L{i:02d}" for i in range(levels)])
        shares = rng.dirichlet(np.full(levels, 2.0))
        live_shares = shares
        if perturbed and drift:
            live_shares = shares * rng.uniform(0.8, 1.2, levels)
            live_shares = live_shares / live_shares.sum()
        ref[name] = labels[rng.choice(levels, ref_rows, p=shares)]
        live[name] = labels[rng.choice(levels, live_rows, p=live_shares)]
    return ref, live


def schema() -> dict[str, str]:
    return {**{n: "numeric" for n, *_ in NUMERIC}, **{n: "categorical" for n, *_ in CATEGORICAL}}


# -- Shipyard (this venv) ----------------------------------------------------------------------------


def run_shipyard(ref: Any, live: Any, runs: int, workers: int) -> tuple[list[float], Any]:
    from shipyard.monitoring.drift import build_profile, compare

    times = []
    report = None
    for _ in range(runs):
        start = time.perf_counter()
        profile = build_profile(ref, schema())  # type: ignore[arg-type]
        report = compare(profile, live, workers=workers)
        times.append(time.perf_counter() - start)
    return times, report


def null_runs(args: argparse.Namespace) -> None:
    """Statistics of unchanged features over seeds, at 100k vs 100k and 100k vs 1M rows."""
    from shipyard.monitoring.drift import build_profile, compare

    for live_rows in (args.ref_rows, args.live_rows):
        stats: dict[str, list[float]] = {
            "ks_statistic": [],
            "psi_numeric": [],
            "js_distance": [],
            "psi_categorical": [],
            "ks_pvalue": [],
            "chi2_pvalue": [],
        }
        flagged = 0
        for seed in range(1000, 1000 + args.null_runs):
            ref, live = make_tables(seed, args.ref_rows, live_rows, drift=False)
            report = compare(build_profile(ref, schema()), live)  # type: ignore[arg-type]
            flagged += len(report.drifted_features)
            for f in report.features:
                s = f.statistics
                if f.kind == "numeric":
                    stats["ks_statistic"].append(float(s["ks_statistic"]))  # type: ignore[arg-type]
                    stats["psi_numeric"].append(float(s["psi"]))  # type: ignore[arg-type]
                    stats["ks_pvalue"].append(float(s["ks_pvalue"]))  # type: ignore[arg-type]
                else:
                    stats["js_distance"].append(float(s["js_distance"]))  # type: ignore[arg-type]
                    stats["psi_categorical"].append(float(s["psi"]))  # type: ignore[arg-type]
                    stats["chi2_pvalue"].append(float(s["chi2_pvalue"]))  # type: ignore[arg-type]
        print(
            f"\nnull, {args.ref_rows:,} reference vs {live_rows:,} live rows, {args.null_runs} seeds "
            f"({len(stats['ks_statistic'])} numeric, {len(stats['js_distance'])} categorical values); "
            f"features flagged: {flagged}"
        )
        for name, values in stats.items():
            arr = np.array(values)
            print(
                f"  {name:16s} median {np.median(arr):.5f}  p99 {np.quantile(arr, 0.99):.5f}  "
                f"max {arr.max():.5f}"
                + (f"  share < 0.01: {np.mean(arr < 0.01):.3f}" if "pvalue" in name else "")
            )
        # Theory for KS: the 99.9th percentile of sqrt(en) * D is 1.95 (Kolmogorov distribution).
        en = args.ref_rows * live_rows / (args.ref_rows + live_rows)
        print(f"  KS D 99.9th percentile in theory: {1.9495 / math.sqrt(en):.5f}")


# -- Evidently and NannyML (run in bench/.venv-drift) -----------------------------------------------


def worker(args: argparse.Namespace) -> None:
    """Run one baseline on the saved tables and write its timings and statistics as JSON."""
    import warnings

    import pandas as pd

    warnings.simplefilter("ignore")
    data = np.load(args.data)
    names = [n for n, *_ in NUMERIC] + [n for n, *_ in CATEGORICAL]
    ref = pd.DataFrame({n: data[f"ref/{n}"] for n in names})
    live = pd.DataFrame({n: data[f"live/{n}"] for n in names})
    for n, *_ in CATEGORICAL:  # object columns, as pandas 2 reads strings
        ref[n] = ref[n].astype(object)
        live[n] = live[n].astype(object)
    out = evidently_worker(ref, live, args.runs) if args.worker == "evidently" else nannyml_worker(ref, live)
    out["versions"] = {"pandas": pd.__version__, "numpy": np.__version__}
    Path(args.out).write_text(json.dumps(out, default=float))


def evidently_worker(ref: Any, live: Any, runs: int) -> dict[str, Any]:
    import evidently
    from evidently import DataDefinition, Dataset, Report
    from evidently.legacy.calculations.stattests import chi_stat_test, ks_stat_test, psi_stat_test
    from evidently.legacy.core import ColumnType
    from evidently.presets import DataDriftPreset

    numeric = [n for n, *_ in NUMERIC]
    categorical = [n for n, *_ in CATEGORICAL]
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    # Warm-up on 5,000 rows (lazy imports and registries), not timed.
    Report([DataDriftPreset()]).run(
        Dataset.from_pandas(live.head(5000), data_definition=definition),
        Dataset.from_pandas(ref.head(5000), data_definition=definition),
    )
    times = []
    snapshot = None
    for _ in range(runs):
        start = time.perf_counter()
        current = Dataset.from_pandas(live, data_definition=definition)
        reference = Dataset.from_pandas(ref, data_definition=definition)
        snapshot = Report([DataDriftPreset()]).run(current, reference)
        times.append(time.perf_counter() - start)
    assert snapshot is not None
    columns: dict[str, Any] = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            value = float(metric["value"])
            columns[config["column"]] = {
                "method": config["method"],
                "threshold": config["threshold"],
                "value": value,
                "drifted": value >= config["threshold"],
            }
    extra: dict[str, Any] = {}
    for n in numeric:
        ks = ks_stat_test.func(ref[n], live[n], ColumnType.Numerical, 0.05)
        psi = psi_stat_test.func(ref[n], live[n], ColumnType.Numerical, 0.1)
        extra[n] = {
            "ks_pvalue": float(ks[0]),
            "ks_drifted": bool(ks[1]),
            "psi_equal_width": float(psi[0]),
            "psi_drifted": bool(psi[1]),
        }
    for n in categorical:
        chi = chi_stat_test.func(ref[n], live[n], ColumnType.Categorical, 0.05)
        psi = psi_stat_test.func(ref[n], live[n], ColumnType.Categorical, 0.1)
        extra[n] = {
            "chisquare_pvalue": float(chi[0]),
            "chisquare_drifted": bool(chi[1]),
            "psi": float(psi[0]),
            "psi_drifted": bool(psi[1]),
        }
    return {
        "tool": "evidently",
        "version": evidently.__version__,
        "times": times,
        "columns": columns,
        "extra": extra,
    }


def nannyml_worker(ref: Any, live: Any) -> dict[str, Any]:
    import nannyml

    numeric = [n for n, *_ in NUMERIC]
    categorical = [n for n, *_ in CATEGORICAL]
    results: dict[str, Any] = {"tool": "nannyml", "version": nannyml.__version__}
    for label, chunking in (("one_chunk", {"chunk_number": 1}), ("default_chunks", {})):

        def calculator(chunking: dict[str, int] = chunking) -> Any:
            return nannyml.UnivariateDriftCalculator(
                column_names=numeric + categorical,
                treat_as_categorical=categorical,
                continuous_methods=["kolmogorov_smirnov", "wasserstein"],
                categorical_methods=["chi2", "jensen_shannon"],
                **chunking,
            )

        # Warm-up on 20,000 rows, not timed.
        calculator().fit(ref.head(20_000)).calculate(live.head(20_000))
        calc = calculator()
        start = time.perf_counter()
        calc.fit(ref)
        result = calc.calculate(live)
        elapsed = time.perf_counter() - start
        frame = result.filter(period="analysis").to_df()
        columns: dict[str, Any] = {}
        for n in numeric + categorical:
            methods = ("kolmogorov_smirnov", "wasserstein") if n in numeric else ("chi2", "jensen_shannon")
            columns[n] = {
                m: {
                    "values": [float(v) for v in frame[(n, m, "value")]],
                    "alerts": int(frame[(n, m, "alert")].sum()),
                    "chunks": len(frame),
                }
                for m in methods
            }
        results[label] = {"time": elapsed, "columns": columns}
    return results


def run_worker(args: argparse.Namespace, tool: str, data: Path, tmp: Path) -> dict[str, Any]:
    python = args.venv / "bin" / "python"
    if not python.exists():
        sys.stderr.write(
            f"setup error: {python} not found; create it with: .venv/bin/python bench/drift.py --setup\n"
        )
        raise SystemExit(2)
    out = tmp / f"{tool}.json"
    cmd = [
        str(python),
        __file__,
        "--worker",
        tool,
        "--data",
        str(data),
        "--out",
        str(out),
        "--runs",
        str(args.baseline_runs),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(f"setup error: the {tool} worker failed:\n{proc.stderr[-4000:]}")
        raise SystemExit(2)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


# -- comparison --------------------------------------------------------------------------------------


def agreement(
    report: Any, evidently: dict[str, Any] | None, nanny: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Max absolute difference per statistic computed the same way by Shipyard and a baseline."""
    rows: list[dict[str, Any]] = []

    def add(label: str, pairs: list[tuple[float, float]], exact: bool = True) -> None:
        if pairs:
            diff = max(abs(a - b) for a, b in pairs)
            rows.append({"statistic": label, "features": len(pairs), "max_abs_diff": diff, "exact": exact})

    stats = {f.name: f.statistics for f in report.features}
    numeric = [n for n, *_ in NUMERIC]
    categorical = [n for n, *_ in CATEGORICAL]
    if evidently is not None:
        cols, extra = evidently["columns"], evidently["extra"]
        add(
            "Wasserstein / ref std  (Evidently default report)",
            [
                (stats[n]["wasserstein_norm"], cols[n]["value"])
                for n in numeric
                if cols[n]["method"].startswith("Wasserstein")
            ],
        )
        # Evidently's JS uses the natural log; base 2 = base e / sqrt(ln 2).
        add(
            "JS distance, base 2    (Evidently default report)",
            [
                (stats[n]["js_distance"], cols[n]["value"] / math.sqrt(math.log(2)))
                for n in categorical
                if cols[n]["method"].startswith("Jensen")
            ],
        )
        add(
            "KS p-value             (Evidently ks stattest)",
            [(stats[n]["ks_pvalue"], extra[n]["ks_pvalue"]) for n in numeric],
        )
        add(
            "PSI, categorical       (Evidently psi stattest)",
            [(stats[n]["psi"], extra[n]["psi"]) for n in categorical],
        )
    if nanny is not None:
        one = nanny["one_chunk"]["columns"]
        add(
            "chi-square statistic   (NannyML chi2)",
            [(stats[n]["chi2_statistic"], one[n]["chi2"]["values"][0]) for n in categorical],
        )
        add(
            "JS distance, base 2    (NannyML categorical)",
            [(stats[n]["js_distance"], one[n]["jensen_shannon"]["values"][0]) for n in categorical],
        )
        add(
            "KS statistic           (NannyML, binned estimate)",
            [(stats[n]["ks_statistic"], one[n]["kolmogorov_smirnov"]["values"][0]) for n in numeric],
            exact=False,
        )
        add(
            "Wasserstein            (NannyML, binned estimate)",
            [(stats[n]["wasserstein"], one[n]["wasserstein"]["values"][0]) for n in numeric],
            exact=False,
        )
    return rows


def flags(evidently: dict[str, Any] | None, nanny: dict[str, Any] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if evidently is not None:
        out["evidently default report"] = sorted(n for n, c in evidently["columns"].items() if c["drifted"])
        extra = evidently["extra"]
        out["evidently ks (p < 0.05)"] = sorted(n for n, e in extra.items() if e.get("ks_drifted"))
        out["evidently psi (>= 0.1; equal-width bins)"] = sorted(
            n for n, e in extra.items() if e.get("psi_drifted")
        )
        out["evidently one-sample chi-square (p < 0.05)"] = sorted(
            n for n, e in extra.items() if e.get("chisquare_drifted")
        )
    if nanny is not None:
        for label in ("one_chunk", "default_chunks"):
            for method in ("kolmogorov_smirnov", "wasserstein", "chi2", "jensen_shannon"):
                out[f"nannyml {label} {method}"] = sorted(
                    n for n, c in nanny[label]["columns"].items() if c.get(method, {}).get("alerts", 0) > 0
                )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ref-rows", type=int, default=100_000)
    parser.add_argument("--live-rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--runs", type=int, default=3, help="timed Shipyard runs (the median is reported)")
    parser.add_argument("--baseline-runs", type=int, default=1, help="timed Evidently runs")
    parser.add_argument("--workers", type=int, default=1, help="Shipyard compare() threads")
    parser.add_argument(
        "--venv", type=Path, default=DEFAULT_VENV, help="virtualenv with Evidently and NannyML"
    )
    parser.add_argument("--skip-baselines", action="store_true", help="time Shipyard only")
    parser.add_argument(
        "--setup", action="store_true", help="create --venv from requirements-drift.txt, then exit"
    )
    parser.add_argument("--null-runs", type=int, default=0, help="measure the null distribution instead")
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    parser.add_argument("--worker", choices=["evidently", "nannyml"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return 0
    if args.setup:
        subprocess.run(["python3", "-m", "venv", str(args.venv)], check=True)
        pip = [str(args.venv / "bin" / "pip"), "install", "-r", str(BENCH / "requirements-drift.txt")]
        return subprocess.run(pip, check=False).returncode
    sys.path.insert(0, str(BENCH))
    from _server import loadavg, machine, print_verdicts, save_results

    if args.null_runs:
        null_runs(args)
        return 0
    import pandas as pd

    started = dt.datetime.now()
    print(f"load average {' '.join(loadavg())}; generating {args.ref_rows:,} + {args.live_rows:,} rows ...")
    ref, live = make_tables(args.seed, args.ref_rows, args.live_rows)
    ref_df, live_df = pd.DataFrame(ref), pd.DataFrame(live)
    for n, *_ in CATEGORICAL:
        ref_df[n] = ref_df[n].astype(object)
        live_df[n] = live_df[n].astype(object)

    times_df, report = run_shipyard(ref_df, live_df, args.runs, args.workers)
    times_np, report_np = run_shipyard(ref, live, args.runs, args.workers)
    shipyard_s = statistics.median(times_df)
    print(
        f"shipyard   {shipyard_s:7.3f} s  median of {args.runs} (DataFrame in), runs "
        + ", ".join(f"{t:.3f}" for t in times_df)
    )
    print(f"shipyard   {statistics.median(times_np):7.3f} s  median of {args.runs} (dict of NumPy arrays in)")
    assert report.drifted_features == report_np.drifted_features
    from shipyard.monitoring.drift import build_profile

    profile_json = build_profile(ref_df, schema()).to_json()  # type: ignore[arg-type]
    print(f"reference profile: {len(profile_json) / 1e6:.1f} MB of JSON (sorted reference samples included)")

    evidently = nanny = None
    if not args.skip_baselines:
        with tempfile.TemporaryDirectory(prefix="drift-bench-") as tmp:
            data = Path(tmp) / "tables.npz"
            np.savez(
                data, **{f"ref/{k}": v for k, v in ref.items()}, **{f"live/{k}": v for k, v in live.items()}
            )
            nanny = run_worker(args, "nannyml", data, Path(tmp))
            evidently = run_worker(args, "evidently", data, Path(tmp))
        ev_s = statistics.median(evidently["times"])
        nm_one, nm_default = nanny["one_chunk"]["time"], nanny["default_chunks"]["time"]
        nm_s = min(nm_one, nm_default)  # the ratio is taken against the faster of NannyML's two runs
        print(
            f"evidently  {ev_s:7.3f} s  {ev_s / shipyard_s:6.1f}x Shipyard's time  (evidently "
            f"{evidently['version']}, default DataDriftPreset report)"
        )
        print(
            f"nannyml    {nm_one:7.3f} s  {nm_one / shipyard_s:6.1f}x Shipyard's time  "
            f"(nannyml {nanny['version']}, one chunk per table: the same statistics as Shipyard)"
        )
        print(
            f"nannyml    {nm_default:7.3f} s  {nm_default / shipyard_s:6.1f}x Shipyard's time  "
            "(default chunking, 10 chunks per table)"
        )

    print(f"\nload average {' '.join(loadavg())}")
    print("\nShipyard per feature (shifted/perturbed marked *):")
    for f in report.features:
        mark = "*" if f.name in EXPECTED else " "
        print(f" {mark} {f.name:12s} {'DRIFT' if f.drifted else 'ok   '}  {f.reason}")
    found = flags(evidently, nanny)
    found = {"shipyard": report.drifted_features, **found}
    print(f"\nexpected to drift: {', '.join(EXPECTED)}")
    for label, names in found.items():
        print(f"  {label:48s} {len(names):2d}: {', '.join(names) or '-'}")
    rows = agreement(report, evidently, nanny)
    if rows:
        print("\nagreement with the baselines (max |difference| over the features):")
        for r in rows:
            note = "" if r["exact"] else "  (estimate, no target)"
            print(f"  {r['statistic']:52s} {r['features']:2d} features  {r['max_abs_diff']:.3g}{note}")
    if evidently is not None:
        e = evidently["extra"]["lognormal_0"]["psi_equal_width"]
        s = report.feature("lognormal_0").statistics["psi"]
        print(
            f"\nPSI of lognormal_0 (0.05-sigma shift): reference-decile bins {s:.4f}, "
            f"Evidently's equal-width (Sturges) bins {e:.4f}"
        )

    checks: list[dict[str, Any]] = [
        {
            "target": "flags exactly the shifted and perturbed features",
            "measured": ", ".join(report.drifted_features),
            "pass": sorted(report.drifted_features) == EXPECTED,
        },
        {
            "target": "catches the 0.05-sigma lognormal shifts",
            "measured": ", ".join(n for n in ("lognormal_0", "lognormal_1") if report.feature(n).drifted),
            "pass": report.feature("lognormal_0").drifted and report.feature("lognormal_1").drifted,
        },
    ]
    if evidently is not None and nanny is not None:
        checks += [
            {
                "target": ">= 20x faster than Evidently's default report",
                "measured": f"{ev_s / shipyard_s:.1f}x",
                "pass": ev_s / shipyard_s >= 20,
            },
            {
                "target": ">= 2x faster than NannyML (the faster of its two runs)",
                "measured": f"{nm_s / shipyard_s:.1f}x",
                "pass": nm_s / shipyard_s >= 2,
            },
            {
                "target": "exact statistics agree to 1e-6",
                "measured": f"max {max(r['max_abs_diff'] for r in rows if r['exact']):.3g}",
                "pass": all(r["max_abs_diff"] <= 1e-6 for r in rows if r["exact"]),
            },
        ]
    print()
    print_verdicts(checks)
    save_results(
        args,
        "drift",
        started,
        machine=machine(),
        loadavg_at_end=loadavg(),
        shipyard={
            "times": times_df,
            "times_numpy_input": times_np,
            "profile_json_bytes": len(profile_json),
            "report": report.to_dict(),
        },
        evidently=evidently,
        nannyml=nanny,
        flags=found,
        agreement=rows,
        checks=checks,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
