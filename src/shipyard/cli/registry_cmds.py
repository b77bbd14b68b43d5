"""`shipyard services` and `shipyard versions`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from shipyard.cli.common import HomeOption, cli_actor, console, err, session_for

services_app = typer.Typer(help="Governed services.", no_args_is_help=True)
versions_app = typer.Typer(help="Immutable model versions of a service.", no_args_is_help=True)


@services_app.command("list")
def services_list(home: Path | None = HomeOption) -> None:
    """List services with their live version and paused state."""
    from shipyard.registry import service as registry

    table = Table("slug", "name", "owner", "live", "state")
    with session_for(home) as (_, session):
        for s in registry.list_services(session):
            r = registry.to_read(session, s)
            state = f"[yellow]paused[/yellow] ({r.paused_by}: {r.paused_reason})" if r.paused else "serving"
            table.add_row(
                r.slug, r.name, r.owner or "-", f"v{r.live_version}" if r.live_version else "-", state
            )
    console.print(table)


@services_app.command("show")
def services_show(slug: str, home: Path | None = HomeOption) -> None:
    """Show a service as JSON."""
    from shipyard.registry import service as registry

    with session_for(home) as (_, session):
        read = registry.to_read(session, registry.get_service(session, slug))
    console.print_json(read.model_dump_json())


@services_app.command("create")
def services_create(
    spec: Path = typer.Argument(..., help="JSON file: slug, name, input_schema, ..."),
    home: Path | None = HomeOption,
) -> None:
    """Create a service from a JSON description (the same body as POST /v1/services)."""
    from pydantic import ValidationError

    from shipyard.registry import service as registry
    from shipyard.registry.schemas import ServiceCreate

    try:
        data = ServiceCreate.model_validate_json(spec.read_text())
    except (OSError, ValidationError) as exc:
        err.print(f"[red]invalid service description in {spec}:[/red]\n{exc}")
        raise typer.Exit(1) from None
    with session_for(home) as (_, session):
        registry.create_service(session, cli_actor(), data)
    console.print(f"Created service [bold]{data.slug}[/bold]")


@services_app.command("policy")
def services_policy(
    slug: str,
    set_file: Path | None = typer.Option(
        None, "--set", help="Replace the policy with this JSON file ('-' reads standard input)."
    ),
    home: Path | None = HomeOption,
) -> None:
    """Show a service's runtime policy, or replace it with --set (audited; workers apply it at once).

    The policy holds retries, the circuit breaker, the fallback chain, admission limits, batching,
    process isolation, a rate limit, which calls go to human review and what to do when the recorder is
    full; see docs/serving.md and docs/review.md.
    """
    import sys

    from pydantic import ValidationError

    from shipyard.registry import service as registry
    from shipyard.serving.policy import RuntimePolicy

    if set_file is not None:
        try:
            text = sys.stdin.read() if str(set_file) == "-" else set_file.read_text()
            policy = RuntimePolicy.model_validate_json(text)
        except OSError as exc:
            err.print(f"[red]cannot read {set_file}:[/red] {exc}")
            raise typer.Exit(1) from None
        except ValidationError as exc:
            err.print(f"[red]invalid policy in {set_file}:[/red]")
            for e in exc.errors():
                err.print(f"  {'.'.join(str(p) for p in e['loc']) or 'policy'}: {e['msg']}")
            raise typer.Exit(1) from None
        with session_for(home) as (_, session):
            registry.set_policy(session, cli_actor(), slug, policy)
        console.print(f"{slug}: policy replaced")
    with session_for(home) as (_, session):
        read = registry.to_read(session, registry.get_service(session, slug))
    console.print_json(read.policy.model_dump_json())


@versions_app.command("list")
def versions_list(slug: str, home: Path | None = HomeOption) -> None:
    """List a service's versions; the live one is marked."""
    from shipyard.registry import service as registry

    table = Table("version", "loader", "artifact", "confidence", "created", "by", "live")
    with session_for(home) as (_, session):
        service = registry.get_service(session, slug)
        for v in registry.list_versions(session, slug):
            table.add_row(
                f"v{v.number}",
                v.loader,
                (v.artifact_sha256 or v.entrypoint or "-")[:16],
                "yes" if v.returns_confidence else "no",
                v.created_at.strftime("%Y-%m-%d %H:%M"),
                v.created_by,
                "[green]● live[/green]" if service.live_version_id == v.id else "",
            )
    console.print(table)


@versions_app.command("register")
def versions_register(
    slug: str,
    loader: str = typer.Option(..., help="callable, joblib, onnx, mlflow or http"),
    artifact: Path | None = typer.Option(None, help="Model file or directory"),
    entrypoint: str | None = typer.Option(None, help="module:attr for callable, URL for http"),
    config: str = typer.Option("{}", help="Loader options as JSON"),
    confidence: bool = typer.Option(False, "--confidence/--no-confidence", help="The model returns one"),
    batching: bool = typer.Option(
        False, "--batching/--no-batching", help="The model takes a list of inputs (predict_batch)"
    ),
    description: str = "",
    live: bool = typer.Option(False, "--live", help="Make it live at once"),
    home: Path | None = HomeOption,
) -> None:
    """Register a model version from a file, a directory, a Python callable or a URL."""
    from shipyard.registry import service as registry
    from shipyard.registry.artifacts import ArtifactStore
    from shipyard.registry.schemas import VersionCreate

    try:
        options = json.loads(config)
    except json.JSONDecodeError as exc:
        err.print(f"[red]--config is not valid JSON:[/red] {exc}")
        raise typer.Exit(1) from None
    data = VersionCreate(
        loader=loader,
        entrypoint=entrypoint,
        config=options,
        returns_confidence=confidence,
        supports_batching=batching,
        description=description,
        make_live=live,
    )
    with (
        console.status(f"Storing and test-loading the {loader} model…"),
        session_for(home) as (settings, session),
    ):
        version = registry.register_version(
            session,
            cli_actor(),
            ArtifactStore(settings.artifacts_dir),
            slug,
            data,
            artifact,
            host=_host(settings),
        )
        number = version.number
    console.print(f"Registered {slug} v{number}" + (" and made it live" if live else ""))


def _host(settings: Any) -> dict[str, Any]:
    """What a server offers in-process models, for the test load here (the policy corpus, built on
    first use, so models that do not ask for it cost nothing)."""
    corpus: list[Any] = []

    def get_corpus() -> Any:
        if not corpus:
            from shipyard.assistants.policy.live import LiveCorpus
            from shipyard.db.engine import make_engine
            from shipyard.db.session import make_sessionmaker

            factory = make_sessionmaker(make_engine(settings.database_url))
            corpus.append(
                LiveCorpus.for_home(factory, settings.documents_dir, settings.secret(), settings.assistant)
            )
        return corpus[0]

    return {"corpus": get_corpus, "settings": settings}


@versions_app.command("live")
def versions_live(slug: str, number: int, home: Path | None = HomeOption) -> None:
    """Make a version live (all traffic)."""
    from shipyard.registry import service as registry

    with session_for(home) as (_, session):
        registry.set_live(session, cli_actor(), slug, number)
    console.print(f"{slug}: v{number} is live")
