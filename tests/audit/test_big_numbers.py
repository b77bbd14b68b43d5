"""Values JSON can hold but 64-bit integers cannot still land in the audit trail and verify."""

from __future__ import annotations

from sqlalchemy.orm import Session

from shipyard.audit import service as audit
from shipyard.audit.service import Actor


def test_an_int_beyond_64_bits_is_recorded_and_verifies(session: Session) -> None:
    audit.record(
        session,
        Actor.system(),
        "service.create",
        "service",
        "huge",
        service="huge",
        after={"input_schema": {"type": "integer", "maximum": 99999999999999999999}},
    )
    session.commit()
    report = audit.verify(session)
    assert report.ok, report
    event = audit.list_events(session, audit.AuditFilter(service="huge"))[0]
    assert event.after == {"input_schema": {"type": "integer", "maximum": "99999999999999999999"}}
