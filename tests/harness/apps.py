"""The test app: service specs of the busybox image, and a git repository that builds it."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

# Every service a test creates is named with this prefix; the session sweep relies on it.
TEST_PREFIX = "t-"


def service_name(infix: str = "") -> str:
    """A unique service name that the cleanup recognises (``t-`` + ``infix`` + random hex)."""
    return TEST_PREFIX + infix + uuid.uuid4().hex[:8]


def app_spec(name: str, image: str, **overrides: Any) -> dict[str, Any]:
    """A spec of the busybox test app with a fast HTTP health check."""
    spec: dict[str, Any] = {
        "name": name,
        "image": image,
        "networks": ["matrx-test"],
        "health": {
            "http_path": "/healthz",
            "port": 8080,
            "interval_s": 1,
            "timeout_s": 1,
            "retries": 2,
        },
        "env": {},
    }
    spec.update(overrides)
    return spec


def source_spec(name: str, image: str, repo: Path, **overrides: Any) -> dict[str, Any]:
    """The test app's spec with a git source."""
    return app_spec(name, image, source={"repo": str(repo), "branch": "main"}, **overrides)


class GitApp:
    """A local git repository whose Dockerfile builds the busybox test app at a version."""

    def __init__(self, path: Path, base_image: str) -> None:
        self.path, self.base = path, base_image
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.email", "dev@example.com")
        self.git("config", "user.name", "Dev Person")

    def git(self, *args: str) -> str:
        """Run git in the repository; its stdout, stripped."""
        return subprocess.run(
            ["git", "-C", str(self.path), *args], check=True, capture_output=True, text=True
        ).stdout.strip()

    def commit(
        self, version: str, message: str | None = None, dockerfile: str | None = None, env: str = ""
    ) -> str:
        """Commit a Dockerfile for ``version``; returns the full sha."""
        text = dockerfile or f"FROM {self.base}\nENV APP_VERSION={version}\n{env}\n"
        (self.path / "Dockerfile").write_text(text)
        (self.path / "VERSION").write_text(version + "\n")
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message or f"release {version}")
        return self.git("rev-parse", "HEAD")
