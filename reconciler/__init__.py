"""reconciler: Terraform-style GitOps for AI-provider accounts.

Config (YAML) and recorded state go in, a plan comes out, and only the applier talks back
to the providers. See docs/architecture.md for the map of modules.
"""

from __future__ import annotations

__version__ = "0.1.0"
