"""Install the console's browser assets (xterm.js) from ``dashboard/package-lock.json``.

The image build runs this instead of ``npm ci`` (``dashboard/setup.sh`` on a workstation),
so the image needs no Node.js: each locked package's tarball is fetched from the npm
registry, checked against the lock's ``integrity`` (sha512), and unpacked into
``DEST/<name>``, as npm lays out ``node_modules``.

    python3 dashboard/fetch_assets.py dashboard/package-lock.json dashboard/node_modules
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path, PurePosixPath

REGISTRY = "https://registry.npmjs.org"


def locked_packages(lock: Path) -> dict[str, dict[str, str]]:
    """Package name to its lock entry (version, integrity, resolved), for every package."""
    packages = json.loads(lock.read_text())["packages"]
    prefix = "node_modules/"
    return {key[len(prefix) :]: entry for key, entry in packages.items() if key.startswith(prefix)}


def tarball_url(name: str, entry: dict[str, str]) -> str:
    """Where the registry serves the package's tarball."""
    if "resolved" in entry:
        return entry["resolved"]
    return f"{REGISTRY}/{name}/-/{name.rsplit('/', 1)[-1]}-{entry['version']}.tgz"


def verify(data: bytes, integrity: str) -> None:
    """Refuse bytes whose sha512 is not the lock's."""
    algo, _, expected = integrity.partition("-")
    if algo != "sha512":
        raise ValueError(f"unsupported integrity {algo}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise ValueError(f"integrity mismatch: lock {expected}, got {actual}")


def unpack(data: bytes, dest: Path) -> int:
    """Unpack an npm tarball's ``package/`` files into ``dest``; returns the file count."""
    count = 0
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            parts = PurePosixPath(member.name).parts[1:]  # drop the top folder ("package")
            if not member.isfile() or not parts or ".." in parts:
                continue
            target = dest.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            target.write_bytes(source.read())
            count += 1
    return count


def install(lock: Path, dest: Path) -> None:
    """Fetch, verify and unpack every locked package into ``dest``."""
    for name, entry in locked_packages(lock).items():
        url = tarball_url(name, entry)
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (https registry)
            data = response.read()
        verify(data, entry["integrity"])
        files = unpack(data, dest / name)
        print(f"{name}@{entry['version']}: {files} files from {url}")


if __name__ == "__main__":
    install(Path(sys.argv[1]), Path(sys.argv[2]))
