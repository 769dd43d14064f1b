"""What a signed-in person may do: the token's scope, and why an action is disabled."""

from __future__ import annotations

from dataclasses import dataclass

from matrx_ship.models import Scope, TokenInfo

TERMINAL = Scope.admin
LIFECYCLE = Scope.operate


@dataclass(frozen=True)
class Identity:
    """The token behind this session, as ``GET /v1/whoami`` names it."""

    name: str
    scope: Scope

    @classmethod
    def from_whoami(cls, token: TokenInfo) -> Identity:
        return cls(name=token.name, scope=token.scope)

    def can(self, needed: Scope) -> bool:
        return self.scope.allows(needed)

    def why_not(self, needed: Scope, what: str) -> str | None:
        """None when allowed, else the sentence shown beside the disabled control."""
        if self.can(needed):
            return None
        return (
            f"{what} needs a token with the '{needed.value}' scope; "
            f"you are signed in as '{self.name}' ({self.scope.value})."
        )
