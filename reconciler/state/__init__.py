"""State: what reconciler has recorded about the real world, and how it is kept.

``backend`` is the interface every backend implements (read, record one change, lock,
force-unlock, check writable, describe; sealed secrets follow the backend); ``document``
holds the in-memory model (lineage, serial, resources); ``local`` is the default backend,
a JSON snapshot and its journal (``journaled``, ``journal``) beside an OS-level lock.
"""

from __future__ import annotations

from reconciler.state.backend import LockInfo, StateBackend
from reconciler.state.document import StateDocument
from reconciler.state.local import LocalBackend

__all__ = ["LocalBackend", "LockInfo", "StateBackend", "StateDocument"]
