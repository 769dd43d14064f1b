"""Secrets at rest, fail-fast settings and the generated env reference."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from matrx_ship.config import normalize_pg_url
from matrx_ship.crypto import SecretBox
from matrx_ship.envdoc import DOC, render
from onbox_agent.settings import AgentSettings


def test_values_round_trip_and_ciphertext_hides_them() -> None:
    box = SecretBox("a-master-key-of-enough-length")
    sealed = box.encrypt("hunter2")
    assert "hunter2" not in sealed and sealed.startswith("enc:v1:")
    assert box.decrypt(sealed) == "hunter2"


def test_another_master_key_cannot_decrypt() -> None:
    sealed = SecretBox("a-master-key-of-enough-length").encrypt("x")
    with pytest.raises(ValueError, match="MATRX_MASTER_KEY does not match"):
        SecretBox("another-master-key-entirely").decrypt(sealed)


@pytest.mark.parametrize("token", ["changeme", "short", "password"])
def test_placeholder_secrets_are_refused(token: str) -> None:
    with pytest.raises(ValidationError, match="placeholder"):
        AgentSettings(admin_token=token, master_key="k" * 32)


def test_secrets_have_no_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MATRX_ADMIN_TOKEN", raising=False)
    monkeypatch.delenv("MATRX_MASTER_KEY", raising=False)
    with pytest.raises(ValidationError, match="MATRX_ADMIN_TOKEN"):
        AgentSettings()  # type: ignore[call-arg]


def test_settings_read_the_documented_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATRX_ADMIN_TOKEN", "t" * 20)
    monkeypatch.setenv("MATRX_MASTER_KEY", "k" * 20)
    monkeypatch.setenv("MATRX_AGENT_PORT", "9123")
    monkeypatch.setenv("SUPABASE_DB_URL", "postgresql://u:p@db.example:5432/postgres")
    s = AgentSettings()  # type: ignore[call-arg]
    assert s.port == 9123
    assert s.store_url == "postgresql+psycopg://u:p@db.example:5432/postgres"
    assert s.embedded == ["blob store is a local folder (set MATRX_S3_BUCKET)"]
    assert "p@db" not in repr(s)


def test_pg_urls_get_the_psycopg_driver() -> None:
    assert normalize_pg_url("postgres://x@h/db") == "postgresql+psycopg://x@h/db"


def test_env_reference_is_current() -> None:
    assert DOC.read_text() == render(), "docs/env.md is stale: run python -m matrx_ship.envdoc"
    for var in ("MATRX_AGENT_PORT", "MATRX_ADMIN_TOKEN", "SUPABASE_DB_URL", "AWS_ENDPOINT_URL"):
        assert f"`{var}`" in DOC.read_text()


def test_agent_refuses_to_start_without_secrets() -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
    r = subprocess.run(
        [sys.executable, "-m", "onbox_agent"], env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 2
    assert "MATRX_ADMIN_TOKEN" in r.stderr and "Traceback" not in r.stderr
