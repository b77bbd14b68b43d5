"""`shipyard jobs` through Typer's runner: with no server, `submit --wait` runs the job in-process."""

from __future__ import annotations

import csv
import getpass
import io
import json
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import select
from typer.testing import CliRunner

from shipyard.audit.service import Actor
from shipyard.batchjobs.models import BatchJob
from shipyard.cli import common
from shipyard.cli.app import app
from shipyard.core.config import Settings
from shipyard.db.engine import make_engine
from shipyard.db.session import make_sessionmaker, unit_of_work
from shipyard.instance import init_instance
from shipyard.registry import service as registry
from shipyard.registry.artifacts import ArtifactStore
from shipyard.registry.schemas import ServiceCreate, VersionCreate
from shipyard.serving.models import Prediction
from tests.factories import ECHO_SCHEMA

OPERATOR = f"cli:{getpass.getuser()}"


class Cli:
    def __init__(self, home: Path, db_url: str) -> None:
        self.home, self.db_url = home, db_url
        self.env = {
            "SHIPYARD_DATABASE_URL": db_url,
            "SHIPYARD_JOBS__POLL_S": "0.05",
            "SHIPYARD_JOBS__CHUNK_ROWS": "5",
            "SHIPYARD_JOBS__PICKUP_WAIT_S": "0.3",
        }

    def __call__(self, *args: str, code: int = 0) -> str:
        result: Result = CliRunner().invoke(app, [*args, "--home", str(self.home)], env=self.env)
        assert result.exit_code == code, (
            f"{args} -> {result.exit_code}\n{result.output}\n{result.exception!r}"
        )
        return result.output

    def version(self, slug: str, entrypoint: str, create: bool = False) -> None:
        engine = make_engine(self.db_url)
        try:
            with unit_of_work(make_sessionmaker(engine)) as s:
                actor = Actor.system("test-setup")
                if create:
                    registry.create_service(
                        s, actor, ServiceCreate(slug=slug, name=slug, input_schema=ECHO_SCHEMA)
                    )
                registry.register_version(
                    s,
                    actor,
                    ArtifactStore(self.home / "artifacts"),
                    slug,
                    VersionCreate(
                        loader="callable", entrypoint=entrypoint, returns_confidence=True, make_live=True
                    ),
                )
        finally:
            engine.dispose()

    def jobs(self) -> list[BatchJob]:
        engine = make_engine(self.db_url)
        try:
            with make_sessionmaker(engine)() as s:
                return list(s.scalars(select(BatchJob).order_by(BatchJob.created_at)))
        finally:
            engine.dispose()

    def predictions(self, job_id: str) -> dict[str, Prediction]:
        engine = make_engine(self.db_url)
        try:
            with make_sessionmaker(engine)() as s:
                rows = s.scalars(select(Prediction).where(Prediction.request_id.startswith(f"job-{job_id}-")))
                return {p.request_id: p for p in rows}
        finally:
            engine.dispose()


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    monkeypatch.setattr(common.console, "width", 200)  # a wide terminal, as test_cli.py's COLUMNS=250
    home = tmp_path / "instance"
    init_instance(Settings(home=home, database_url=db_url), examples=False)
    made = Cli(home, db_url)
    made.version("echo", "tests.factories:double", create=True)
    return made


def test_submit_waits_with_a_progress_bar_and_runs_the_job_here(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "claims.csv"
    data.write_text("x,label\n" + "".join(f"{i},r{i}\n" for i in range(12)))
    out = cli("jobs", "submit", str(data), "--service", "echo")
    assert "Submitted job" in out and "12 rows of claims.csv for echo" in out
    assert "Running the job in this process." in out  # no server picked it up
    assert "12/12" in out and "0 failed" in out  # the progress bar's last state
    (job,) = cli.jobs()
    assert f"Job {job.id} succeeded: 12/12 rows, 12 succeeded (0 by a fallback), 0 failed" in out
    assert job.status == "succeeded" and job.submitted_by == OPERATOR and job.lease_owner is None
    records = cli.predictions(job.id)  # shipped before the command returned
    assert set(records) == {f"job-{job.id}-{n}" for n in range(1, 13)}
    assert {(p.caller, p.caller_kind) for p in records.values()} == {(OPERATOR, "system")}

    listed = cli("jobs", "list")
    assert job.id in listed and "succeeded" in listed and "12/12" in listed
    status = cli("jobs", "status", job.id[:10])
    assert "progress:  12/12 rows (100%)" in status and "12 succeeded" in status


def test_failed_rows_export_retry_and_cancel(cli: Cli, tmp_path: Path) -> None:
    cli.version("picky", "tests.batchjobs.models:picky", create=True)
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"x": x}) + "\n" for x in (-1, 0, 1, -2)))
    out = cli("jobs", "submit", str(data), "-s", "picky", "--here", "--as-user", "admin", code=2)
    (job,) = cli.jobs()
    assert "completed with errors: 4/4 rows, 2 succeeded (0 by a fallback), 2 failed" in out
    assert f"shipyard jobs export {job.id} --dead-letters" in out
    assert {p.caller for p in cli.predictions(job.id).values()} == {"admin"}

    status = cli("jobs", "status", job.id)
    assert "Dead letters" in status and "model_failed" in status and "negative x" in status
    dead = tmp_path / "dead.csv"
    assert "dead letters" in cli("jobs", "export", job.id, "--dead-letters", "-o", str(dead))
    letters = list(csv.DictReader(io.StringIO(dead.read_text())))
    assert [(e["row"], e["error_code"]) for e in letters] == [("1", "model_failed"), ("4", "model_failed")]
    assert "ValueError: negative x" in letters[0]["reason"]

    cli.version("picky", "tests.factories:double")  # the fix goes live
    out = cli("jobs", "retry", job.id, "--row", "1", "--here", code=2)
    assert "Queued 1 failed rows" in out and "3 succeeded" in out and "1 failed" in out
    out = cli("jobs", "retry", job.id, "--here")
    assert f"Job {job.id} succeeded: 4/4 rows, 4 succeeded (0 by a fallback), 0 failed" in out
    results = tmp_path / "results.jsonl"
    cli("jobs", "export", job.id, "--results", "-o", str(results))
    exported = [json.loads(line) for line in results.read_text().splitlines()]
    assert [(e["row"], e["outcome"], e["output"]) for e in exported] == [
        (1, "served", -2),
        (2, "served", 0),
        (3, "served", 2),
        (4, "served", -4),
    ]

    out = cli("jobs", "submit", str(data), "-s", "picky", "--no-wait")
    queued = cli.jobs()[-1]
    assert queued.status == "queued" and f"shipyard jobs status {queued.id}" in out
    assert f"Cancelled job {queued.id} after 0 of 4 rows" in cli("jobs", "cancel", queued.id)
    assert "error (job_finished)" in cli("jobs", "cancel", queued.id, code=1)


def test_mistakes_are_one_line_errors(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "rows.csv"
    data.write_text("x,y\n1,2\n")
    assert "error (bad_file)" in cli("jobs", "submit", str(data), "-s", "echo", code=1)
    assert "error (not_found)" in cli("jobs", "submit", str(data), "-s", "nope", code=1)
    odd = tmp_path / "rows.txt"
    odd.write_text("x\n1\n")
    assert "error (bad_format)" in cli("jobs", "submit", str(odd), "-s", "echo", code=1)
    assert "error (not_found)" in cli("jobs", "status", "nope", code=1)
    assert "--dead-letters or --results" in cli("jobs", "export", "nope", "-o", str(tmp_path / "x"), code=1)
    assert cli.jobs() == []
