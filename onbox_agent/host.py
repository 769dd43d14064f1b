"""The host as a person on call needs it: engine, disk, memory, load, networks, images."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import docker

from onbox_agent.engine import MANAGED, SERVICE


def meminfo(path: Path = Path("/proc/meminfo")) -> dict[str, int]:
    """Total and available memory in bytes."""
    values: dict[str, int] = {}
    for line in path.read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("MemTotal", "MemAvailable", "SwapTotal", "SwapFree"):
            values[key] = int(rest.split()[0]) * 1024
    return {
        "total_bytes": values.get("MemTotal", 0),
        "available_bytes": values.get("MemAvailable", 0),
        "swap_total_bytes": values.get("SwapTotal", 0),
        "swap_free_bytes": values.get("SwapFree", 0),
    }


def disk(path: str) -> dict[str, Any]:
    """Size, used and free bytes of the filesystem holding ``path``."""
    usage = shutil.disk_usage(path)
    return {
        "path": path,
        "total_bytes": usage.total,
        "used_bytes": usage.used,
        "free_bytes": usage.free,
        "used_percent": round(usage.used / usage.total * 100, 1),
    }


def host_summary(client: docker.DockerClient) -> dict[str, Any]:
    """Engine facts, disk of / and of Docker's root, memory and load."""
    info = client.info()
    keys = (
        "ServerVersion",
        "Driver",
        "CgroupVersion",
        "KernelVersion",
        "OperatingSystem",
        "NCPU",
        "MemTotal",
        "Containers",
        "ContainersRunning",
        "ContainersStopped",
        "Images",
        "DockerRootDir",
    )
    root = info.get("DockerRootDir") or "/"
    load1, load5, load15 = os.getloadavg()
    return {
        "docker": {k: info.get(k) for k in keys}
        | {"api_version": client.version().get("ApiVersion")},
        "disk": [disk("/")] + ([disk(root)] if os.path.exists(root) else []),
        "memory": meminfo(),
        "load": {"1m": load1, "5m": load5, "15m": load15, "cpus": os.cpu_count()},
    }


def networks(client: docker.DockerClient) -> list[dict[str, Any]]:
    """Docker networks with their driver, subnets and attached containers."""
    out = []
    for net in client.networks.list(greedy=True):
        attrs = net.attrs
        subnets = [c.get("Subnet") for c in (attrs.get("IPAM") or {}).get("Config") or []]
        members = [c.get("Name") for c in (attrs.get("Containers") or {}).values()]
        out.append(
            {
                "name": net.name,
                "id": net.short_id,
                "driver": attrs.get("Driver"),
                "internal": attrs.get("Internal", False),
                "subnets": subnets,
                "containers": sorted(members),
                "managed": (attrs.get("Labels") or {}).get(MANAGED) == "true",
            }
        )
    return sorted(out, key=lambda n: n["name"])


def images(client: docker.DockerClient) -> dict[str, Any]:
    """Images with sizes and the services using them, and what could be reclaimed."""
    users: dict[str, set[str]] = {}
    for c in client.containers.list(all=True, sparse=True):
        labels = c.attrs.get("Labels") or {}
        who = (
            labels.get(SERVICE)
            if labels.get(MANAGED) == "true"
            else f"(unmanaged) {c.attrs.get('Names', ['?'])[0].lstrip('/')}"
        )
        users.setdefault(c.attrs.get("ImageID", ""), set()).add(who or "?")
    rows = []
    for img in client.api.images(all=False):
        rows.append(
            {
                "id": img["Id"],
                "tags": img.get("RepoTags") or [],
                "size_bytes": img.get("Size", 0),
                "created": img.get("Created"),
                "used_by": sorted(users.get(img["Id"], set())),
                "dangling": not [t for t in img.get("RepoTags") or [] if t != "<none>:<none>"],
            }
        )
    reclaim = sum(r["size_bytes"] for r in rows if r["dangling"] and not r["used_by"])
    return {
        "images": sorted(rows, key=lambda r: -r["size_bytes"]),
        "dangling_reclaimable_bytes": reclaim,
    }
