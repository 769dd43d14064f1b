"""The agent serves HTTPS itself (break-glass path); the client pins its certificate."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from matrx_ship.client import AgentClient, AgentError, PinMismatch
from tests.harness import RunningAgent, agent_settings


def self_signed(tmp: Path, cn: str) -> tuple[Path, Path, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / f"{cn}.crt", tmp / f"{cn}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pin = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    return cert_path, key_path, pin


def requests_seen(metrics: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("matrx_agent_requests_total{")
    )


@pytest.fixture(scope="module")
def tls_agent(docker_client, tmp_path_factory) -> Iterator[tuple[RunningAgent, str, str]]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("tls")
    cert, key, pin = self_signed(tmp, "breakglass")
    _, _, other_pin = self_signed(tmp, "impostor")
    agent = RunningAgent(agent_settings(tmp, tls_cert=cert, tls_key=key)).start()
    yield agent, pin, other_pin
    agent.stop()


def test_pinned_client_reaches_the_agent_over_https(tls_agent) -> None:  # type: ignore[no-untyped-def]
    agent, pin, _ = tls_agent
    client = AgentClient(agent.url, agent.admin_token, pinned_sha256=pin)
    assert agent.url.startswith("https://")
    assert client.readyz()["checks"]["docker"]["ok"] is True


def test_a_wrong_pin_is_refused_before_the_token_is_sent(tls_agent) -> None:  # type: ignore[no-untyped-def]
    agent, _, other_pin = tls_agent
    observer = agent.client(verify=False)
    before = requests_seen(observer.metrics())
    with pytest.raises(PinMismatch, match="not the pinned"):
        AgentClient(agent.url, agent.admin_token, pinned_sha256=other_pin).healthz()
    assert requests_seen(observer.metrics()) == before + 1  # only the observer's own call


def test_without_a_pin_the_self_signed_certificate_is_not_trusted(tls_agent) -> None:  # type: ignore[no-untyped-def]
    agent, _, _ = tls_agent
    with pytest.raises(AgentError) as info:
        AgentClient(agent.url, agent.admin_token).healthz()
    assert info.value.code == "unreachable" and "CERTIFICATE_VERIFY_FAILED" in info.value.message
