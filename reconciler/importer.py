"""``import``: adopt an existing resource into the state by its provider id.

The address's resource kind decides whether and how (only a MiniMax sub-account can be
imported: it cannot be read, so an import records what the user vouches for; kinds that
are read live need no import). It is also the way out when a create's answer was lost and
MiniMax refuses to create the name again; ``sealed_for_others`` keeps such a create's
sealed secrets from being dropped by the import of a wrong id.
"""

from __future__ import annotations

from reconciler.errors import PlanError
from reconciler.model import Desired
from reconciler.resources import KINDS, kind_of_address
from reconciler.resources.base import Record
from reconciler.secrets import SecretStore
from reconciler.state import StateDocument
from reconciler.suggest import command


def import_resource(desired: Desired, state: StateDocument, address: str, ident: str) -> Record:
    """Record ``address`` as the existing resource ``ident``, as its kind allows."""
    kind = kind_of_address(address)
    if kind is None:
        expected = " or ".join(k.address_pattern for k in KINDS)
        raise PlanError(f"{address} is not an address reconciler manages; expected {expected}")
    return kind.adopt(desired, state, address, ident)


def sealed_for_others(store: SecretStore, address: str, subject_id: str, drop: bool) -> bool:
    """Whether the store holds secrets at ``address`` for another account, to drop after import.

    They were sealed by a create whose answer was lost, so their subject_id is most likely
    the account's real one: importing another id by mistake must not destroy the only copy
    of its token. ``drop`` is the user saying that account is gone.
    """
    others = sorted(store.subjects(address) - {subject_id})
    if not others or drop:
        return bool(others)
    named = [other for other in others if other]
    hint = (
        f"that is most likely this account's id: `{command('import', address, named[0])}`. "
        if len(named) == 1
        else ""
    )
    raise PlanError(
        f"the secrets store holds a token for {address} sealed for subject_id "
        f"{', '.join(named) or '(unrecorded)'}, not {subject_id}: {hint}If that account no longer "
        "exists, import again with --forget-sealed-secrets to drop its secrets."
    )
