"""The policy assistant against its targets: ingestion, answer quality, and latency on 2 CPU cores.

In one run, on a fresh SQLite instance:

1. Ingestion: `shipyard documents load-demo` as a subprocess, timed end to end (model load, text
   extraction, OCR of the scanned PDFs, embeddings, encryption, storage). Target: under 2 minutes.
2. Baseline: the bare pipeline (the assistant's model object called directly, in this process: embed,
   retrieve, answer), over the labelled questions of --split; its latency p50/p95.
3. Shipyard: the same questions through `shipyard serve` over HTTP (auth, validation, the governed
   invoke path, the recorder), scored with the definitions of `shipyard eval` (evaluation/qa.py).
   Targets: accuracy on answerable questions >= 0.90, abstention precision and recall >= 0.90 each,
   no answer citing a superseded version, p95 <= 500 ms.

The calibration is fitted on the dev split (scripts/policy_corpus/tune.py); report on test, which
nothing is tuned on.

    .venv/bin/python bench/policy_assistant.py              # the recorded run (test split)
    .venv/bin/python bench/policy_assistant.py --split dev  # what tuning sees

Raw results go to bench/results/policy-assistant-<time>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _server import (
    BenchError,
    Server,
    base_env,
    interrupt,
    machine,
    print_verdicts,
    save_results,
    shipyard_server,
)

SLUG = "billing-policy-assistant"


def shipyard(home: Path, *args: str, timeout_s: float = 600) -> tuple[str, float]:
    """Run a `shipyard` command on the instance; its output and wall time."""
    command = [str(Path(sys.executable).parent / "shipyard"), *args, "--home", str(home)]
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    t0 = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout_s, check=False)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        raise BenchError(
            f"shipyard {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc.stdout, took


def bare(home: Path, examples: list[Any]) -> dict[str, Any]:
    """The pipeline without Shipyard around it: the model object, called directly."""
    from shipyard.assistants.policy.live import LiveCorpus
    from shipyard.assistants.policy.runtime import PolicyAssistant
    from shipyard.core.config import Settings
    from shipyard.db.engine import make_engine
    from shipyard.db.session import make_sessionmaker

    settings = Settings(home=home)
    engine = make_engine(settings.database_url)
    try:
        corpus = LiveCorpus.for_home(
            make_sessionmaker(engine), settings.documents_dir, settings.secret(), settings.assistant
        )
        model = PolicyAssistant({"corpus": corpus, "settings": settings})
        model.predict({"question": "warm up"})
        latencies = []
        for example in examples:
            t0 = time.perf_counter()
            model.predict({"question": example.question})
            latencies.append((time.perf_counter() - t0) * 1000)
    finally:
        engine.dispose()
    # The same percentile definition as the governed figures (evaluation/qa.py).
    p50, p95 = np.percentile(latencies, [50, 95])
    return {"p50_ms": float(p50), "p95_ms": float(p95), "calls": len(latencies)}


def governed(server: Server, key: str, examples: list[Any], in_force: set[tuple[str, str]]) -> dict[str, Any]:
    from shipyard.evaluation.qa import score
    from shipyard.evaluation.runner import run_remote

    run_remote(server.url, key, SLUG, examples[:3])  # warm: the first calls settle caches
    results = run_remote(server.url, key, SLUG, examples)
    return score(examples, results, in_force=in_force).as_dict()


def in_force(home: Path) -> set[tuple[str, str]]:
    from shipyard.cli.eval_cmds import _in_force
    from shipyard.core.config import Settings

    return _in_force(Settings(home=home))


def verdicts(ingest_s: float, report: dict[str, Any], base: dict[str, Any]) -> list[dict[str, Any]]:
    r = report
    p95 = f"{r['latency_p95_ms']:.1f} ms (bare pipeline {base['p95_ms']:.1f} ms)"
    rows = [
        ("ingestion of the demo corpus < 120 s", f"{ingest_s:.1f} s", ingest_s < 120),
        ("accuracy on answerable >= 0.90", f"{r['accuracy']:.3f}", r["accuracy"] >= 0.9),
        (
            "abstention precision >= 0.90",
            f"{r['abstention_precision']:.3f}",
            r["abstention_precision"] >= 0.9,
        ),
        ("abstention recall >= 0.90", f"{r['abstention_recall']:.3f}", r["abstention_recall"] >= 0.9),
        (
            "answers citing a superseded version = 0",
            str(r["superseded_citations"]),
            r["superseded_citations"] == 0,
        ),
        ("p95 latency <= 500 ms (HTTP, governed)", p95, r["latency_p95_ms"] <= 500),
    ]
    return [{"target": t, "measured": m, "pass": ok} for t, m, ok in rows]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument(
        "--split", choices=("test", "dev", "all"), default="test", help="labelled questions to ask"
    )
    p.add_argument(
        "--results", type=Path, default=Path(__file__).parent / "results", help="raw results folder"
    )
    p.add_argument("--keep", action="store_true", help="keep the instance folder (printed) for a look")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, interrupt)
    started = dt.datetime.now(dt.UTC)
    workdir = Path(tempfile.mkdtemp(prefix="shipyard-assistant-bench-"))
    server: Server | None = None
    try:
        from shipyard.cli.eval_cmds import read_questions

        info = machine()
        load = " ".join(info["loadavg_at_start"])
        print(f"machine: {info['cpu']}, {info['cores']} cores, load average {load}")
        home = workdir / "shipyard"
        shipyard(home, "init")  # the example services, the assistant among them
        out, ingest_s = shipyard(home, "documents", "load-demo")
        print(f"ingestion: {out.strip().splitlines()[-1]} — {ingest_s:.1f} s wall, the command end to end")
        examples = read_questions(None, args.split)
        base = bare(home, examples)
        print(
            f"bare pipeline: p50 {base['p50_ms']:.1f} ms, p95 {base['p95_ms']:.1f} ms ({base['calls']} calls)"
        )
        key_out, _ = shipyard(
            home, "keys", "create", "--user", "admin", "--roles", "consumer", "--name", "bench"
        )
        key = next(word for word in key_out.split() if word.startswith("sy_"))
        server = shipyard_server(home, workdir, base_env(threads=2))
        server.start()
        server.wait_healthy(180)
        report = governed(server, key, examples, in_force(home))
        ratio = report["latency_p95_ms"] / base["p95_ms"] if base["p95_ms"] else float("nan")
        print(
            f"shipyard ({args.split}, {report['questions']} questions): accuracy {report['accuracy']:.3f}, "
            f"abstention precision {report['abstention_precision']:.3f} "
            f"recall {report['abstention_recall']:.3f}, "
            f"citation correctness {report['citation_correctness']:.3f}, superseded citations "
            f"{report['superseded_citations']}, p50 {report['latency_p50_ms']:.1f} ms, p95 "
            f"{report['latency_p95_ms']:.1f} ms ({ratio:.2f}x the bare pipeline's p95)"
        )
        checks = verdicts(ingest_s, report, base)
        print_verdicts(checks)
        save_results(
            args,
            "policy-assistant",
            started,
            machine=info,
            ingestion_s=ingest_s,
            bare=base,
            shipyard=report,
            checks=checks,
        )
        return 0
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if server is not None:
            server.stop()
        if args.keep:
            print(f"instance kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
