"""Service specs in the state store, env values encrypted at rest, cached for when the
store is away (lifecycle and status keep working on the specs last read)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from matrx_ship.crypto import SecretBox
from matrx_ship.models import ServiceSpec
from matrx_ship.store import Store


class SpecRepo:
    """Service specs in the state store, env values encrypted at rest."""

    def __init__(self, store: Store, box: SecretBox) -> None:
        self.store, self.box = store, box
        # the last specs read: lifecycle and status keep working while the store is away
        self._cache: dict[str, ServiceSpec] = {}

    def _sealed(self, spec: ServiceSpec) -> dict[str, Any]:
        data = spec.model_dump(mode="json")
        data["env"] = {k: self.box.encrypt(v) for k, v in spec.env.items()}
        return data

    def _opened(self, data: dict[str, Any]) -> ServiceSpec:
        data = dict(data)
        data["env"] = {k: self.box.decrypt(v) for k, v in data.get("env", {}).items()}
        return ServiceSpec.model_validate(data)

    def create(self, spec: ServiceSpec) -> None:
        self.store.create_service(spec.name, spec.kind, self._sealed(spec))

    def update(self, spec: ServiceSpec) -> int:
        return self.store.update_service(spec.name, spec.kind, self._sealed(spec))

    def get(self, name: str) -> ServiceSpec:
        try:
            spec = self._opened(self.store.get_service(name))
        except SQLAlchemyError:
            if name not in self._cache:
                raise
            return self._cache[name]
        self._cache[name] = spec
        return spec

    def list(self) -> list[ServiceSpec]:
        try:
            specs = [self._opened(d) for d in self.store.list_services()]
        except SQLAlchemyError:
            if not self._cache:
                raise
            return sorted(self._cache.values(), key=lambda s: s.name)
        self._cache = {s.name: s for s in specs}
        return specs

    def delete(self, name: str) -> None:
        self.store.delete_service(name)
        self._cache.pop(name, None)
