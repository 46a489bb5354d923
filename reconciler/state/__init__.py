"""State: what reconciler has recorded about the real world, and how it is kept.

``document`` holds the in-memory model (lineage, serial, resources) and its (de)serialisation;
``local`` is the default backend: one JSON file and an OS-level lock beside it.
"""

from __future__ import annotations

from reconciler.state.document import StateDocument
from reconciler.state.local import LocalBackend, LockInfo

__all__ = ["LocalBackend", "LockInfo", "StateDocument"]
