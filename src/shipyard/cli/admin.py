"""`shipyard users`, `shipyard keys` and `shipyard audit`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from shipyard.cli.common import HomeOption, cli_actor, console, err, session_for, settings_for

users_app = typer.Typer(help="Users and their roles.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys (shown once, stored hashed).", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)


def _roles(value: str) -> list[str]:
    return [r.strip() for r in value.split(",") if r.strip()]


@users_app.command("create")
def users_create(
    username: str,
    roles: str = typer.Option(..., help="Comma-separated, e.g. owner,reviewer"),
    display_name: str = "",
    email: str | None = None,
    home: Path | None = HomeOption,
) -> None:
    """Create a user with a generated one-time password."""
    from pydantic import ValidationError

    from shipyard.auth import service as auth
    from shipyard.auth.schemas import UserCreate

    try:
        data = UserCreate(username=username, roles=_roles(roles), display_name=display_name, email=email)
    except ValidationError as exc:
        err.print(f"[red]invalid user:[/red] {exc.errors()[0]['msg']}")
        raise typer.Exit(1) from None
    with session_for(home) as (_, session):
        _, password = auth.create_user(session, cli_actor(), data)
    console.print(f"Created [bold]{username}[/bold] ({roles}); one-time password: [bold]{password}[/bold]")


@users_app.command("list")
def users_list(home: Path | None = HomeOption) -> None:
    """List users."""
    from shipyard.auth import service as auth

    table = Table("username", "roles", "active", "source", "last sign-in", "locked until")
    with session_for(home) as (_, session):
        for u in auth.list_users(session):
            table.add_row(
                u.username,
                ", ".join(u.roles),
                "yes" if u.is_active else "no",
                u.source,
                str(u.last_login_at or "-"),
                str(u.locked_until or "-"),
            )
    console.print(table)


@users_app.command("set-roles")
def users_set_roles(username: str, roles: str, home: Path | None = HomeOption) -> None:
    """Replace a user's roles."""
    from shipyard.auth import service as auth
    from shipyard.auth.schemas import UserUpdate

    try:
        data = UserUpdate(roles=_roles(roles))
    except ValueError as exc:
        err.print(f"[red]invalid roles:[/red] {exc}")
        raise typer.Exit(1) from None
    with session_for(home) as (_, session):
        auth.update_user(session, cli_actor(), username, data)
    console.print(f"{username}: roles are now {roles}")


@users_app.command("disable")
def users_disable(username: str, home: Path | None = HomeOption) -> None:
    """Disable a user: sign-in and the user's API keys stop working."""
    from shipyard.auth import service as auth
    from shipyard.auth.schemas import UserUpdate

    with session_for(home) as (_, session):
        auth.update_user(session, cli_actor(), username, UserUpdate(is_active=False))
    console.print(f"{username} disabled")


@users_app.command("enable")
def users_enable(username: str, home: Path | None = HomeOption) -> None:
    """Re-enable a user (also clears a sign-in lockout)."""
    from shipyard.auth import service as auth
    from shipyard.auth.schemas import UserUpdate

    with session_for(home) as (_, session):
        auth.update_user(session, cli_actor(), username, UserUpdate(is_active=True))
    console.print(f"{username} enabled")


@users_app.command("reset-password")
def users_reset_password(username: str, home: Path | None = HomeOption) -> None:
    """Generate a new one-time password and end the user's sessions."""
    from shipyard.auth import service as auth

    with session_for(home) as (_, session):
        password = auth.reset_password(session, cli_actor(), username)
    console.print(f"New password for [bold]{username}[/bold]: [bold]{password}[/bold]")


@keys_app.command("create")
def keys_create(
    user: str = typer.Option(..., help="The key's owner"),
    name: str = "cli key",
    roles: str = "consumer",
    services: str | None = typer.Option(None, help="Comma-separated slugs"),
    expires_in_days: float | None = typer.Option(90, help="0 for a key that never expires"),
    home: Path | None = HomeOption,
) -> None:
    """Create an API key; the secret is printed once."""
    from pydantic import ValidationError

    from shipyard.core.errors import ShipyardError
    from shipyard.instance import issue_key

    try:
        secret = issue_key(
            settings_for(home),
            user,
            name,
            _roles(roles),
            _roles(services) if services else None,
            expires_in_days or None,
            actor=cli_actor(),
        )
    except ShipyardError as exc:
        err.print(f"[red]error ({exc.code}):[/red] {exc.detail}")
        raise typer.Exit(1) from None
    except ValidationError as exc:
        err.print(f"[red]invalid key:[/red] {exc.errors()[0]['msg']}")
        raise typer.Exit(1) from None
    console.print(f"API key for {user} ({roles}): [bold]{secret}[/bold]\nIt is shown only once.")


@keys_app.command("list")
def keys_list(user: str | None = None, home: Path | None = HomeOption) -> None:
    """List API keys (never their secrets)."""
    from shipyard.auth import service as auth

    table = Table("id", "prefix", "name", "owner", "roles", "services", "expires", "revoked")
    with session_for(home) as (_, session):
        owner_id = auth.get_user(session, user).id if user else None
        names = {u.id: u.username for u in auth.list_users(session)}
        for k in auth.list_keys(session, owner_id):
            table.add_row(
                k.id,
                k.prefix,
                k.name,
                names.get(k.user_id, "?"),
                ", ".join(k.roles),
                ", ".join(k.services) if k.services else "all",
                str(k.expires_at or "never"),
                str(k.revoked_at or "-"),
            )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: str, home: Path | None = HomeOption) -> None:
    """Revoke a key at once."""
    from shipyard.auth import service as auth
    from shipyard.auth.principal import Principal

    root = Principal(id="cli", name="cli", kind="user", roles=frozenset({"admin"}))
    with session_for(home) as (_, session):
        key = auth.revoke_key(session, cli_actor(), root, key_id)
    console.print(f"Revoked {key.prefix}… ({key.name})")


@audit_app.command("verify")
def audit_verify(home: Path | None = HomeOption) -> None:
    """Check the hash chain; exit 1 and name the first bad event if anything was tampered with."""
    from shipyard.audit import service as audit

    with session_for(home) as (_, session):
        report = audit.verify(session)
    if report.ok:
        console.print(f"[green]OK[/green]: {report.checked} events, chain intact")
        return
    err.print(
        f"[red]FAILED[/red]: {report.problem} at event {report.seq}: {report.detail} "
        f"({report.checked} events verified before it)"
    )
    raise typer.Exit(1)


@audit_app.command("list")
def audit_list(
    limit: int = 30,
    actor: str | None = None,
    action: str | None = None,
    service: str | None = None,
    home: Path | None = HomeOption,
) -> None:
    """Recent audit events, newest first."""
    from shipyard.audit import service as audit

    table = Table("seq", "at", "actor", "action", "target", "service")
    with session_for(home) as (_, session):
        for e in audit.list_events(
            session, audit.AuditFilter(actor=actor, action=action, service=service), limit=limit
        ):
            table.add_row(
                str(e.seq),
                e.at.strftime("%Y-%m-%d %H:%M:%S"),
                e.actor,
                e.action,
                f"{e.target_type}:{e.target_id}",
                e.service or "",
            )
    console.print(table)
