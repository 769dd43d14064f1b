"""The blob store: a local folder and S3 (moto in server mode) behind one interface."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from matrx_ship.blobs import BlobStore, LocalBlobStore, S3BlobStore
from matrx_ship.errors import InvalidInput, NotFound, Unavailable


@pytest.fixture(params=["local", "s3"])
def blobs(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[BlobStore]:
    if request.param == "local":
        yield LocalBlobStore(tmp_path / "blobs")
        return
    moto = request.getfixturevalue("moto")
    for k, v in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(k, v)
    bucket = f"b-{os.urandom(4).hex()}"
    boto3.client("s3", endpoint_url=moto.endpoint).create_bucket(Bucket=bucket)
    yield S3BlobStore(bucket, moto.endpoint, prefix="host1")


def test_put_records_size_and_sha256_and_reads_back(blobs: BlobStore) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    info = blobs.put("svc/web/dump.bin", io.BytesIO(data))
    assert info.size == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert blobs.open("svc/web/dump.bin").read() == data
    assert blobs.exists("svc/web/dump.bin")
    assert blobs.list("svc/") == ["svc/web/dump.bin"]
    blobs.delete("svc/web/dump.bin")
    assert not blobs.exists("svc/web/dump.bin")
    blobs.check()


def test_missing_blob_and_bad_keys_are_clear_errors(blobs: BlobStore) -> None:
    with pytest.raises(NotFound):
        blobs.open("nothing/here").read()
    for key in ("../etc/passwd", "/abs", "a//b", ""):
        with pytest.raises(InvalidInput):
            blobs.put(key, io.BytesIO(b"x"))


def test_s3_objects_live_under_the_host_prefix_and_are_encrypted(moto, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for k, v in {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(k, v)
    s3 = boto3.client("s3", endpoint_url=moto.endpoint)
    s3.create_bucket(Bucket="prefixed")
    S3BlobStore("prefixed", moto.endpoint, prefix="vps1").put("a/b", io.BytesIO(b"hello"))
    head = s3.head_object(Bucket="prefixed", Key="vps1/a/b")
    assert head["ContentLength"] == 5
    assert head.get("ServerSideEncryption") == "AES256"


def test_an_unreachable_bucket_says_why(moto, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with pytest.raises(Unavailable, match=r"no-such-bucket.*cannot be reached"):
        S3BlobStore("no-such-bucket", moto.endpoint).check()
