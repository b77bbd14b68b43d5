"""The import that registers every domain's tables on Base.metadata."""

from __future__ import annotations


def load_all_models() -> None:
    """Import every domain's models so metadata is complete (Alembic, create_all in tests)."""
    from shipyard.audit import models as _audit  # noqa: F401
    from shipyard.auth import models as _auth  # noqa: F401
    from shipyard.batchjobs import models as _batchjobs  # noqa: F401
    from shipyard.db import changes as _changes  # noqa: F401
    from shipyard.db import periodic as _periodic  # noqa: F401
    from shipyard.documents import models as _documents  # noqa: F401
    from shipyard.monitoring.alerts import models as _alerts  # noqa: F401
    from shipyard.monitoring.drift import models as _drift  # noqa: F401
    from shipyard.monitoring.rollups import models as _rollups  # noqa: F401
    from shipyard.registry import models as _registry  # noqa: F401
    from shipyard.review import models as _review  # noqa: F401
    from shipyard.review.queue import models as _review_queue  # noqa: F401
    from shipyard.serving import models as _serving  # noqa: F401
