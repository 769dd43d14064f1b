"""What survives a container or an image: compressed logs and image archives in the blob store."""

from __future__ import annotations

import gzip
import heapq
import logging
import zlib
from collections.abc import Iterable, Iterator
from typing import IO, Any

import docker
from docker.errors import APIError, ImageNotFound
from docker.errors import NotFound as DockerNotFound
from docker.models.containers import Container

from matrx_ship.blobs import BlobStore
from matrx_ship.errors import NotFound
from matrx_ship.store.records import Records, ReleaseUpdate
from onbox_agent.engine import RELEASE, SERVICE
from onbox_agent.logs import parse_line

log = logging.getLogger(__name__)


class GzipReader:
    """A file-like reader that gzips an iterable of chunks as it is read (no temp copy)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._zip = zlib.compressobj(6, zlib.DEFLATED, 31)
        self._buf = b""
        self._done = False

    def read(self, n: int = -1) -> bytes:
        while not self._done and (n < 0 or len(self._buf) < n):
            chunk = next(self._chunks, None)
            if chunk is None:
                self._buf += self._zip.flush()
                self._done = True
            else:
                self._buf += self._zip.compress(chunk)
        if n < 0:
            n = len(self._buf)
        out, self._buf = self._buf[:n], self._buf[n:]
        return out


def gunzip_chunks(stream: IO[bytes], size: int = 1 << 20) -> Iterator[bytes]:
    """Decompressed chunks of a gzip stream."""
    unzip = zlib.decompressobj(31)
    while chunk := stream.read(size):
        yield unzip.decompress(chunk)
    yield unzip.flush()


def archive_image(
    client: docker.DockerClient, blobs: BlobStore, image: str, key: str
) -> ReleaseUpdate:
    """``docker save`` of an image, gzipped and streamed into the blob store."""
    info = blobs.put(key, GzipReader(client.images.get(image).save(named=True)))
    return {"archive_key": key, "archive_sha256": info.sha256, "archive_size": info.size}


def ensure_image_from_archive(
    client: docker.DockerClient, blobs: BlobStore, release: dict[str, Any]
) -> bool:
    """Make the release's image present, loading it from its archive; True when loaded."""
    try:
        client.images.get(release["image"])
        return False
    except ImageNotFound:
        pass
    if not release.get("archive_key"):
        raise NotFound(
            f"The image of release {release['id']} is gone and was never archived.",
            code="image_missing",
            hint="Rebuild the release from its commit.",
        )
    with blobs.open(release["archive_key"]) as stream:
        client.images.load(gunzip_chunks(stream))  # type: ignore[arg-type]  # streamed, chunked
    return True


def archive_logs(container: Container, blobs: BlobStore, records: Records) -> str | None:
    """Store a container's whole log (both streams, time-ordered) before it is removed."""
    service = container.labels.get(SERVICE, "unknown")
    try:
        per_stream = [
            [
                parse_line(ln, s)
                for ln in container.logs(
                    stdout=s == "stdout", stderr=s == "stderr", timestamps=True
                )
                .decode(errors="replace")
                .splitlines()
            ]
            for s in ("stdout", "stderr")
        ]
    except (APIError, DockerNotFound):
        return None
    lines = list(heapq.merge(*per_stream, key=lambda r: r["ts"]))
    if not lines:
        return None
    body = "".join(f"{r['ts']} {r['stream']} {r['text']}\n" for r in lines).encode()
    key = f"logs/{service}/{container.name}.log.gz"
    info = blobs.put(key, GzipReader([body]))
    records.add_log_archive(
        service=service,
        container=str(container.name),
        release=container.labels.get(RELEASE) or None,
        first_at=lines[0]["ts"],
        last_at=lines[-1]["ts"],
        key=key,
        size=info.size,
        sha256=info.sha256,
        lines=len(lines),
    )
    return key


def read_archived(blobs: BlobStore, key: str) -> list[dict[str, str]]:
    """The lines of one archived log."""
    with blobs.open(key) as stream:
        text = gzip.decompress(stream.read()).decode(errors="replace")
    out = []
    for line in text.splitlines():
        ts, _, rest = line.partition(" ")
        stream_name, _, body = rest.partition(" ")
        out.append({"ts": ts, "stream": stream_name, "text": body})
    return out
