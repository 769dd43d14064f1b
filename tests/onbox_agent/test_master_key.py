"""/readyz checks the master key against the store's canary: a wrong key is not ready."""

from __future__ import annotations

from pathlib import Path

from tests.harness import start_agent


def test_an_agent_with_another_master_key_is_not_ready(pg_url: str, tmp_path: Path) -> None:
    with start_agent(tmp_path / "first", database_url=pg_url) as first, first.client() as admin:
        assert admin.readyz()["checks"]["master_key"] == {"ok": True}
    # The same store, a fresh random master key.
    with start_agent(tmp_path / "second", database_url=pg_url) as second, second.client() as c:
        ready = c.readyz()
    check = ready["checks"]["master_key"]
    assert ready["ready"] is False
    assert check["ok"] is False
    assert "does not decrypt" in check["error"]
    assert "MATRX_MASTER_KEY" in check["hint"]
