"""The client's server file, ``~/.config/matrx-ship/server.json``.

Old files that still call the Server Manager ``mcp`` (an ``mcp`` key, or a host
``mcp.<domain>``) are migrated to ``manager`` on read, once: the old file is kept
as ``server.json.mcp-backup`` and one line goes to ``audit.log`` beside it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

log = logging.getLogger(__name__)
_MCP_HOST = re.compile(r"(?<![A-Za-z0-9-])mcp\.(?=[A-Za-z0-9-]+\.)")


class Endpoint(BaseModel):
    model_config = ConfigDict(extra="allow")
    url: str
    token: str | None = None
    pinned_sha256: str | None = None
    breakglass_url: str | None = None


class ServerConfig(BaseModel):
    model_config = ConfigDict(extra="allow")
    manager: Endpoint
    domain: str | None = None


def default_path() -> Path:
    return Path.home() / ".config" / "matrx-ship" / "server.json"


def _rename(value: Any) -> Any:
    if isinstance(value, dict):
        return {("manager" if k == "mcp" else k): _rename(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v) for v in value]
    if isinstance(value, str):
        return _MCP_HOST.sub("manager.", value)
    return value


def migrate(raw: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The config with every ``mcp`` name for the manager renamed; and whether it changed."""
    new = _rename(raw)
    return new, new != raw


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def load(path: Path | None = None) -> ServerConfig:
    """Read the server file, migrating an old ``mcp`` one first."""
    path = path or default_path()
    raw = json.loads(path.read_text())
    new, changed = migrate(raw)
    if changed:
        backup = path.with_name(path.name + ".mcp-backup")
        if not backup.exists():
            backup.write_bytes(path.read_bytes())
            os.chmod(backup, 0o600)
        _write(path, new)
        line = {
            "at": datetime.now(UTC).isoformat(),
            "action": "migrate-config",
            "target": str(path),
            "detail": "renamed mcp to manager",
            "backup": str(backup),
        }
        with (path.parent / "audit.log").open("a") as f:
            f.write(json.dumps(line) + "\n")
        log.warning("migrated %s: 'mcp' is now 'manager' (old file kept at %s)", path, backup)
    return ServerConfig.model_validate(new)


def save(config: ServerConfig, path: Path | None = None) -> None:
    """Write the server file (mode 600: it holds a token)."""
    _write(path or default_path(), config.model_dump(exclude_none=True))


def main(argv: list[str]) -> None:
    """``python -m matrx_ship.clientconfig write URL TOKEN``."""
    if len(argv) != 3 or argv[0] != "write":
        sys.exit("usage: python -m matrx_ship.clientconfig write URL TOKEN")
    save(ServerConfig(manager=Endpoint(url=argv[1], token=argv[2])))


if __name__ == "__main__":
    main(sys.argv[1:])
