"""The master-key canary on a SQLite store: written once, checked against the key in use."""

from __future__ import annotations

from pathlib import Path

from matrx_ship.crypto import SecretBox
from matrx_ship.store import Store
from matrx_ship.store.canary import CANARY_KEY, canary_ok, ensure_canary
from matrx_ship.store.settingstable import get_setting

RIGHT = SecretBox("the-right-master-key-0123456789")
WRONG = SecretBox("another-master-key-9876543210")


def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'state.db'}")
    s.migrate()
    return s


def test_a_store_without_a_canary_says_so(tmp_path: Path) -> None:
    assert canary_ok(store(tmp_path), RIGHT) is None


def test_the_key_that_wrote_the_canary_decrypts_it(tmp_path: Path) -> None:
    s = store(tmp_path)
    assert ensure_canary(s, RIGHT) is True
    assert canary_ok(s, RIGHT) is True


def test_a_wrong_master_key_does_not_decrypt_the_canary(tmp_path: Path) -> None:
    s = store(tmp_path)
    ensure_canary(s, RIGHT)
    assert canary_ok(s, WRONG) is False


def test_a_wrong_key_never_overwrites_the_canary(tmp_path: Path) -> None:
    s = store(tmp_path)
    ensure_canary(s, RIGHT)
    before = get_setting(s, CANARY_KEY)
    assert ensure_canary(s, WRONG) is False
    assert get_setting(s, CANARY_KEY) == before
    assert canary_ok(s, RIGHT) is True and canary_ok(s, WRONG) is False
