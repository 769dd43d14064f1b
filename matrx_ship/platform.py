"""The platform services (Traefik, the manager console) from their declarative specs.

``infra/services/*.json`` hold one ServiceSpec each, plus an optional ``"$comment"``. String
values may name variables, filled from a mapping (bootstrap's env file):

    ${NAME}            the value of NAME; refused when the mapping lacks it
    ${NAME:-default}   the value of NAME, or ``default`` when the mapping lacks it
    $${                a literal ``${``

Every unknown variable of every file is named in one error, before anything is returned.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from matrx_ship.models import ServiceSpec

SERVICES_DIR = Path(__file__).resolve().parents[1] / "infra" / "services"
# Reconcile's dependency order: the proxy before the apps, the manager last.
KIND_ORDER = ("infra", "database", "app", "manager")
_VAR = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class PlatformSpecError(ValueError):
    """A platform spec that cannot be loaded: unknown variables, bad JSON, or not a ServiceSpec."""


def substitute(text: str, variables: Mapping[str, str], missing: set[str]) -> str:
    """``text`` with its variables filled in; names not in ``variables`` go to ``missing``."""

    def fill(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name is None:
            return "${"
        if name in variables:
            return variables[name]
        if default is None:
            missing.add(name)
            return ""
        return default

    return _VAR.sub(fill, text)


def _fill(value: Any, variables: Mapping[str, str], missing: set[str]) -> Any:
    if isinstance(value, str):
        return substitute(value, variables, missing)
    if isinstance(value, list):
        return [_fill(v, variables, missing) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, variables, missing) for k, v in value.items()}
    return value


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise PlatformSpecError(f"{path.name}: cannot read it as JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise PlatformSpecError(f"{path.name}: a spec is a JSON object")
    data.pop("$comment", None)
    return data


def _validate(path: Path, data: dict[str, Any]) -> ServiceSpec:
    try:
        return ServiceSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'spec'}: {e['msg']}" for e in exc.errors()
        )
        raise PlatformSpecError(f"{path.name} is not a valid service spec: {problems}") from exc


def variables_used(directory: Path = SERVICES_DIR) -> dict[str, str | None]:
    """Every variable the specs name, with its default (None: required)."""
    found: dict[str, str | None] = {}
    for path in sorted(directory.glob("*.json")):
        for match in _VAR.finditer(json.dumps(_read(path))):
            if match.group(1) is not None:
                found.setdefault(match.group(1), match.group(2))
    return found


def load_platform_specs(
    variables: Mapping[str, str], directory: Path = SERVICES_DIR
) -> list[ServiceSpec]:
    """The platform services' specs, variables filled in, validated, infra first, manager last.

    Raises PlatformSpecError naming every unknown variable (and the files naming them), or
    the first file that is not valid JSON or not a valid ServiceSpec.
    """
    paths = sorted(directory.glob("*.json"))
    if not paths:
        raise PlatformSpecError(f"no platform specs (*.json) in {directory}")
    filled: list[tuple[Path, dict[str, Any]]] = []
    unknown: dict[str, list[str]] = {}
    for path in paths:
        missing: set[str] = set()
        filled.append((path, _fill(_read(path), variables, missing)))
        for name in missing:
            unknown.setdefault(name, []).append(path.name)
    if unknown:
        named = ", ".join(f"{n} (in {', '.join(f)})" for n, f in sorted(unknown.items()))
        raise PlatformSpecError(
            f"unknown variables in the platform specs: {named}; "
            "set them in the env file (docs/supervision.md#platform-services)"
        )
    specs = [_validate(path, data) for path, data in filled]
    return sorted(specs, key=lambda spec: KIND_ORDER.index(spec.kind))
