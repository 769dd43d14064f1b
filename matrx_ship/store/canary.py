"""The master-key canary: a known value encrypted with MATRX_MASTER_KEY, kept in the store.

Every secret in the store is encrypted with the master key, which is never stored with
them. A host started with another key would decrypt nothing (every env read answers 500)
while looking healthy; the canary makes that visible before it matters: the agent's
``/readyz`` and ``bootstrap.sh`` both refuse when it does not decrypt.

The first agent to start on a store writes it (never overwritten, so a wrong key cannot
replace the right one's canary).
"""

from __future__ import annotations

from matrx_ship.crypto import SecretBox
from matrx_ship.store.settingstable import add_setting, get_setting
from matrx_ship.store.store import Store

CANARY_KEY = "master_key_canary"
CANARY_VALUE = "matrx-ship master-key canary v1"
HINT = (
    "Set MATRX_MASTER_KEY to the key this store was created with (the old host's env "
    "file or the secret kept off the host); never replace the canary to make it pass."
)


def ensure_canary(store: Store, box: SecretBox) -> bool:
    """Write the canary when the store has none; whether this call wrote it."""
    return add_setting(store, CANARY_KEY, box.encrypt(CANARY_VALUE))


def canary_ok(store: Store, box: SecretBox) -> bool | None:
    """Whether ``box`` decrypts the store's canary (None: the store has no canary yet)."""
    stored = get_setting(store, CANARY_KEY)
    if stored is None:
        return None
    try:
        return box.decrypt(stored) == CANARY_VALUE
    except ValueError:
        return False
