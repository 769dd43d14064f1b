"""Reading and writing parts: chunked and hashing readers, the sha256 sidecar, checked reads."""

from __future__ import annotations

import contextlib
import io
import posixpath
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from matrx_ship import blobs
from matrx_ship.blobs import BlobInfo, Readable
from matrx_ship.errors import Conflict
from onbox_agent.backups.common import CHUNK, SIDECAR
from onbox_agent.runtime import Runtime

# --- streams ------------------------------------------------------------------------------


class ChunkReader:
    """A file-like reader over an iterable of byte chunks (no copy of the whole stream)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buf = bytearray()

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buf += chunk
        if n < 0:
            n = len(self._buf)
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out


class HashingReader(blobs.HashingReader):
    """The blob store's counting, hashing reader, read as chunks (checks on the way out)."""

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        while chunk := self.read(size):
            yield chunk


def put_part(rt: Runtime, key: str, stream: Readable) -> BlobInfo:
    """Stream one part into the blob store, then its ``sha256sum -c`` sidecar."""
    info = rt.blobs.put(key, stream)
    line = f"{info.sha256}  {posixpath.basename(key)}\n".encode()
    try:
        rt.blobs.put(key + SIDECAR, io.BytesIO(line))
    except Exception:
        with contextlib.suppress(Exception):
            rt.blobs.delete(key)  # a part without its checksum is no part
        raise
    return info


@contextmanager
def checked_read(rt: Runtime, part: dict[str, Any]) -> Iterator[HashingReader]:
    """Read a part; raises ``backup_corrupt`` when its bytes are not those recorded at backup
    time, also when the reader failed first (a damaged object is named as such)."""
    with contextlib.closing(rt.blobs.open(part["key"])) as raw:
        reader = HashingReader(raw)
        try:
            yield reader
        except Exception as exc:
            if _drained_intact(reader, part):
                raise
            raise _mismatch(part, f" ({exc})") from exc
        if not _drained_intact(reader, part):
            raise _mismatch(part)


def _drained_intact(reader: HashingReader, part: dict[str, Any]) -> bool:
    """Read the rest, so the digest covers the whole object; whether it is the recorded one."""
    with contextlib.suppress(Exception):
        while reader.read(CHUNK):
            pass
    return reader.digest.hexdigest() == part["sha256"] and reader.size == part["size"]


def _mismatch(part: dict[str, Any], why: str = "") -> Conflict:
    return Conflict(
        f"The part '{part['name']}' ({part['key']}) is corrupt: its sha256 or size differs "
        f"from the one recorded at backup time{why}"[:800],
        code="backup_corrupt",
        hint="Restore an older backup; this one cannot be trusted.",
    )


def corrupt(part: dict[str, Any], exc: Exception) -> Conflict:
    """The error for a part that cannot be read back as what it claims to be."""
    return Conflict(
        f"The part '{part['name']}' ({part['key']}) could not be read back: "
        f"{type(exc).__name__}: {exc}"[:600],
        code="backup_corrupt",
        hint="Restore an older backup; this one cannot be trusted.",
    )
