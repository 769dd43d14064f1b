"""Tokens, audit, the host, and the host as a whole (reconcile, outbox, settings)."""

from __future__ import annotations

from typing import Any

from matrx_ship.api.host import HostSummary, Images, Network
from matrx_ship.api.tokens import ExecTicket
from matrx_ship.client.base import Transport, _drop
from matrx_ship.models import TokenInfo


class AdminApi(Transport):
    """Tokens, audit, the host, reconcile, outbox, settings, local-only state."""

    # --- tokens, audit, host ---------------------------------------------------------------

    def create_token(
        self, name: str, scope: str, expires_in_days: int | None = None
    ) -> dict[str, Any]:
        body = _drop(name=name, scope=scope, expires_in_days=expires_in_days)
        return self.request("POST", "/v1/tokens", json=body)

    def whoami(self) -> TokenInfo:
        """The name and scope of this client's token."""
        return self.fetch(TokenInfo, "GET", "/v1/whoami")

    def exec_ticket(self, name: str) -> ExecTicket:
        """A one-use ticket for a browser to open the service's terminal (admin)."""
        return self.fetch(ExecTicket, "POST", f"/v1/services/{name}/exec-ticket")

    def tokens(self) -> list[TokenInfo]:
        return self.fetch_list(TokenInfo, "GET", "/v1/tokens")

    def revoke_token(self, name: str) -> dict[str, Any]:
        return self.request("DELETE", f"/v1/tokens/{name}")

    def audit(self, **filters: Any) -> dict[str, Any]:
        return self.request("GET", "/v1/audit", params=_drop(**filters))

    def host(self) -> HostSummary:
        """Engine facts, disk of / and of Docker's root, memory and load."""
        return self.fetch(HostSummary, "GET", "/v1/host")

    def host_networks(self) -> list[Network]:
        return self.fetch_list(Network, "GET", "/v1/host/networks")

    def host_images(self) -> Images:
        """Images with sizes and the services using them, and what could be reclaimed."""
        return self.fetch(Images, "GET", "/v1/host/images")

    def reconcile_plan(self) -> dict[str, Any]:
        """What a reconcile would do now (``steps``, ``nothing_to_do``); changes nothing."""
        return self.request("GET", "/v1/system/reconcile")

    def reconcile(self) -> dict[str, Any]:
        """Start the reconcile job (admin): the host is made to match the store."""
        return self.request("POST", "/v1/system/reconcile")

    def outbox(self) -> dict[str, Any]:
        """Records waiting for the store (``pending``) and those it refused (``set_aside``)."""
        return self.request("GET", "/v1/system/outbox")

    def host_settings(self) -> dict[str, Any]:
        """The settings the state store keeps for this host (no secrets)."""
        return self.request("GET", "/v1/system/settings")

    def retry_outbox(self) -> dict[str, Any]:
        """Queue the set-aside records again and flush (admin)."""
        return self.request("POST", "/v1/system/outbox/retry")

    def local_state(self) -> dict[str, Any]:
        """What exists only on this host (``items``: kind, name, risk, since, action, page)."""
        return self.request("GET", "/v1/system/local-state")
