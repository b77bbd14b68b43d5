"""The docs state facts the code must keep true."""

from __future__ import annotations

from pathlib import Path

from shipyard.auth.permissions import PERMISSIONS, SERVICE_SCOPED
from shipyard.auth.roles import ROLES

DOCS = Path(__file__).parent.parent / "docs"


def test_roles_doc_matches_the_permission_table() -> None:
    text = (DOCS / "roles.md").read_text()
    table = text.split("<!-- permissions:start -->")[1].split("<!-- permissions:end -->")[0]
    rows = table.strip().splitlines()[2:]
    documented = {}
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        name = cells[0].strip("`*").rstrip("`")
        documented[name] = ({r for r, c in zip(ROLES, cells[1:], strict=True) if c == "✓"}, "*" in cells[0])
    assert set(documented) == set(PERMISSIONS)
    for name, roles in PERMISSIONS.items():
        assert documented[name] == (set(roles), name in SERVICE_SCOPED), name


def test_readme_opens_with_the_two_commands() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    block = readme.split("```bash", 1)[1].split("```", 1)[0].strip().splitlines()
    assert [line.split()[0] for line in block] == ["./scripts/demo", "./scripts/test"]
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert "./scripts/test" in ci
