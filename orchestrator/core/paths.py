"""Fixed places inside a workspace that more than one layer knows about."""

from __future__ import annotations

__all__ = ["ALERTS_DIR"]

# The event hooks write each run's alert here (``$event.file``): public data, which a
# stage-in may read although the rest of the workspace (state.db, secrets) is refused.
ALERTS_DIR = "events"
