"""The client's server file: old 'mcp' names migrate to 'manager' once, with a backup."""

from __future__ import annotations

import json
from pathlib import Path

from matrx_ship.clientconfig import Endpoint, ServerConfig, load, save


def test_old_mcp_config_is_migrated_once_with_backup_and_audit(tmp_path: Path) -> None:
    path = tmp_path / "server.json"
    old = {
        "mcp": {"url": "https://mcp.example.com", "token": "t1"},
        "domain": "example.com",
        "notes": "mcpserver.example.com stays",
    }
    path.write_text(json.dumps(old))
    cfg = load(path)
    assert cfg.manager.url == "https://manager.example.com"
    assert cfg.manager.token == "t1"
    assert json.loads((tmp_path / "server.json.mcp-backup").read_text()) == old
    stored = json.loads(path.read_text())
    assert "mcp" not in stored and stored["notes"] == "mcpserver.example.com stays"
    load(path)
    lines = (tmp_path / "audit.log").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["action"] == "migrate-config"


def test_a_current_config_is_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "server.json"
    save(ServerConfig(manager=Endpoint(url="http://127.0.0.1:8700", token="t")), path)
    before = path.stat().st_mtime_ns
    assert load(path).manager.url == "http://127.0.0.1:8700"
    assert path.stat().st_mtime_ns == before
    assert not (tmp_path / "audit.log").exists()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
