"""A typed client for the agent's API (HTTP and websockets), with TLS pinning.

    client = AgentClient("https://203.0.113.7:8700", token, pinned_sha256="ab12...")
    client.databases().databases[0].state
    client.services()["services"]

The backups, databases, environment, host, routes, pending, token and exec-ticket
methods return the
models of ``matrx_ship.api`` (the routes' own ``response_model``s, so a drift fails at
the agent's tests and here). The service, release, deployment, job, log and audit
methods still return the JSON as dicts of the same shapes: their callers (the Lambdas,
bench/ and the engine tests) read them as dicts, and move to the models one by one.

With ``pinned_sha256`` the client trusts exactly one certificate: it fetches the
server's certificate without sending anything, compares its SHA-256 with the pin,
and then connects with that certificate as the only trust anchor, so the token
is never sent to an impostor.
"""

from __future__ import annotations

from matrx_ship.client.admin import AdminApi
from matrx_ship.client.base import AgentError, PinMismatch, Terminal, cert_sha256, pinned_context
from matrx_ship.client.data import DataApi
from matrx_ship.client.services import ServicesApi

__all__ = ["AgentClient", "AgentError", "PinMismatch", "Terminal", "cert_sha256", "pinned_context"]


class AgentClient(ServicesApi, DataApi, AdminApi):
    """The agent's API as methods; errors raise AgentError with the agent's code and hint.
    One mixin per area (``services``, ``data``, ``admin``) over the ``base.Transport``."""
