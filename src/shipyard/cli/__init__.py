"""The `shipyard` command."""

from __future__ import annotations

from shipyard.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
