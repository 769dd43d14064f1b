"""What survives a container or an image: compressed logs and image archives in the blob store."""

from __future__ import annotations

import gzip
import heapq
import logging
import threading
import zlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
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


# The shipper (logship.py) and a retiring container's final archive never write the same
# container's lines at once: each reads what the store says is shipped, then ships the rest.
SHIP_LOCK = threading.Lock()


def _since_arg(ts: str) -> int:
    """The whole second of a Docker timestamp, for the engine's ``since`` (inclusive)."""
    return int(datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp())


def new_lines(container: Container, after: str | None) -> list[dict[str, str]]:
    """Both streams' lines later than ``after`` (a timestamp; None: all), in time order.

    Docker's timestamps have a fixed width (RFC 3339, nanoseconds), so they compare as text.
    """
    kw: dict[str, Any] = {"since": _since_arg(after)} if after else {}
    per_stream = [
        [
            parse_line(ln, s)
            for ln in container.logs(
                stdout=s == "stdout", stderr=s == "stderr", timestamps=True, **kw
            )
            .decode(errors="replace")
            .splitlines()
        ]
        for s in ("stdout", "stderr")
    ]
    merged = heapq.merge(*per_stream, key=lambda r: r["ts"])
    return [r for r in merged if after is None or r["ts"] > after]


def chunked(lines: list[dict[str, str]], max_bytes: int) -> Iterator[list[dict[str, str]]]:
    """Consecutive runs of lines whose text form stays within ``max_bytes`` (one line at least)."""
    run: list[dict[str, str]] = []
    size = 0
    for line in lines:
        n = len(_text(line))
        if run and size + n > max_bytes:
            yield run
            run, size = [], 0
        run.append(line)
        size += n
    if run:
        yield run


def _text(line: dict[str, str]) -> bytes:
    return f"{line['ts']} {line['stream']} {line['text']}\n".encode()


def chunk_key(service: str, container: str, first_ts: str) -> str:
    """Where one shipped chunk of a container's log lives in the blob store."""
    return f"logs/{service}/{container}/{first_ts}.log.gz"


def store_lines(
    name: str,
    labels: Mapping[str, str],
    lines: list[dict[str, str]],
    blobs: BlobStore,
    records: Records,
    key: str,
) -> str:
    """One gzipped object of a container's log lines and its ``log_archives`` row (what
    history search reads); ``labels`` say the service and the release."""
    info = blobs.put(key, GzipReader([b"".join(_text(r) for r in lines)]))
    records.add_log_archive(
        service=labels.get(SERVICE, "unknown"),
        container=name,
        release=labels.get(RELEASE) or None,
        first_at=lines[0]["ts"],
        last_at=lines[-1]["ts"],
        key=key,
        size=info.size,
        sha256=info.sha256,
        lines=len(lines),
    )
    return key


def archive_logs(container: Container, blobs: BlobStore, records: Records) -> str | None:
    """Store what the shipper has not yet shipped of a container's log, before it is removed.

    A container never shipped gets its whole log as ``logs/<service>/<container>.log.gz``; one
    the shipper has covered gets only the lines after its last chunk, as one more chunk.
    """
    service = container.labels.get(SERVICE, "unknown")
    with SHIP_LOCK:
        after = records.log_shipped_until([str(container.name)]).get(str(container.name))
        try:
            lines = new_lines(container, after)
        except (APIError, DockerNotFound):
            return None
        if not lines:
            return None
        if after is None:
            key = f"logs/{service}/{container.name}.log.gz"
        else:
            key = chunk_key(service, str(container.name), lines[0]["ts"])
        return store_lines(str(container.name), container.labels, lines, blobs, records, key)


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
