"""One interface for blobs (dumps, archives, logs): a local folder or S3.

Objects are written from a stream; the writer hashes while it writes, so every
object's size and sha256 are known without a second read or a temp copy.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from matrx_ship.errors import InvalidInput, NotFound, Unavailable

CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    sha256: str


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class BlobStore(Protocol):
    durable: bool

    def put(self, key: str, stream: Readable) -> BlobInfo: ...
    def open(self, key: str) -> IO[bytes]: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def list(self, prefix: str) -> list[str]: ...
    def check(self) -> None: ...


class HashingReader:
    """Wraps a stream, counting and hashing what is read through it."""

    def __init__(self, stream: Readable) -> None:
        self.stream, self.size, self.digest = stream, 0, hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(n)
        self.size += len(data)
        self.digest.update(data)
        return data


def _safe_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise InvalidInput(f"'{key}' is not a valid blob key.", hint="Use a/b/c style keys.")
    return key


class LocalBlobStore:
    """Blobs as files below one folder (the embedded, non-durable default)."""

    durable = False

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / _safe_key(key)

    def put(self, key: str, stream: Readable) -> BlobInfo:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        reader = HashingReader(stream)
        with tmp.open("wb") as out:
            shutil.copyfileobj(reader, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
        return BlobInfo(key, reader.size, reader.digest.hexdigest())

    def open(self, key: str) -> IO[bytes]:
        try:
            return self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise NotFound(f"There is no blob '{key}'.") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str) -> list[str]:
        base = self.root
        return sorted(
            str(p.relative_to(base))
            for p in base.rglob("*")
            if p.is_file()
            and not p.name.endswith(".part")
            and str(p.relative_to(base)).startswith(prefix)
        )

    def check(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise Unavailable(
                f"The blob folder {self.root} is not writable.",
                hint="Fix the folder's owner or MATRX_DATA_DIR.",
                code="blobs_down",
            )


class S3BlobStore:
    """Blobs in an S3 bucket (or any S3-compatible endpoint), streamed multipart."""

    durable = True

    def __init__(
        self,
        bucket: str,
        endpoint_url: str | None = None,
        prefix: str = "",
        session: boto3.Session | None = None,
    ) -> None:
        """``session`` carries credentials that are not in the environment (default: boto3's
        own chain: the environment, ~/.aws, the instance's role)."""
        self.bucket, self.prefix = bucket, prefix.strip("/")
        cfg = BotoConfig(
            retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60
        )
        self.s3: Any = (session or boto3).client("s3", endpoint_url=endpoint_url, config=cfg)

    def _key(self, key: str) -> str:
        key = _safe_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, stream: Readable) -> BlobInfo:
        reader = HashingReader(stream)
        try:
            self.s3.upload_fileobj(
                reader, self.bucket, self._key(key), ExtraArgs={"ServerSideEncryption": "AES256"}
            )
        except (BotoCoreError, ClientError) as exc:
            raise _s3_error(exc, key) from exc
        return BlobInfo(key, reader.size, reader.digest.hexdigest())

    def open(self, key: str) -> IO[bytes]:
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except (BotoCoreError, ClientError) as exc:
            raise _s3_error(exc, key) from exc

    def exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise _s3_error(exc, key) from exc

    def delete(self, key: str) -> None:
        try:
            self.s3.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as exc:
            raise _s3_error(exc, key) from exc

    def list(self, prefix: str) -> list[str]:
        if ".." in prefix.split("/"):
            raise InvalidInput(
                f"'{prefix}' is not a valid prefix.", hint="Use a/b/ style prefixes."
            )
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        keys: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=full
        ):
            keys += [
                o["Key"][len(self.prefix) + 1 if self.prefix else 0 :]
                for o in page.get("Contents", [])
            ]
        return sorted(keys)

    def iter_chunks(self, key: str) -> Iterator[bytes]:
        body = self.open(key)
        yield from iter(lambda: body.read(CHUNK), b"")

    def check(self) -> None:
        try:
            self.s3.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise Unavailable(
                f"The bucket '{self.bucket}' cannot be reached: {exc}",
                hint="Check MATRX_S3_BUCKET, the credentials and AWS_ENDPOINT_URL.",
                code="s3_error",
            ) from exc


def _s3_error(exc: Exception, what: str) -> Unavailable | NotFound:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
    if code in ("404", "NoSuchKey", "NotFound"):
        return NotFound(f"There is no blob '{what}' in S3.")
    return Unavailable(
        f"S3 refused or failed for '{what}': {code or type(exc).__name__}: {exc}",
        hint="Check MATRX_S3_BUCKET, the credentials and AWS_ENDPOINT_URL.",
        code="s3_error",
    )


def blob_store_for(
    bucket: str | None,
    endpoint_url: str | None,
    prefix: str,
    data_dir: Path,
    session: boto3.Session | None = None,
) -> BlobStore:
    """S3 when a bucket is configured, else the local folder below data_dir."""
    if bucket:
        return S3BlobStore(bucket, endpoint_url, prefix, session)
    return LocalBlobStore(data_dir / "blobs")
