"""Where files live: a local folder, or an S3 bucket (s3://bucket/prefix).

Local files keep their plain os calls. Objects in S3 go through pyarrow's S3 file system, which
pyarrow ships, except a whole object read at once (every inbox drop), which is boto3's one GET:
pyarrow asks an object's size first (a HEAD, as many requests again), and its Python API takes
no size to skip that. The usual AWS variables give pyarrow and boto3 alike the credentials, the region and the
endpoint (AWS_ENDPOINT_URL, for an S3-compatible server). An S3 object appears whole
when its upload completes, so nothing here is ever seen half written.
"""

from __future__ import annotations

import contextlib
import functools
import os
import posixpath
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import urlsplit

from newsdrop.errors import NewsdropError, first_line

if TYPE_CHECKING:
    import pyarrow.fs

S3 = "s3://"
COMPRESSION = "zstd"  # of every Parquet file newsdrop writes itself


def is_s3(location: str) -> bool:
    return location.startswith(S3)


def join(location: str, *parts: str) -> str:
    """A path or URL under `location` (posix separators: both are posix here)."""
    return posixpath.join(location, *parts)


def parent(location: str) -> str:
    return posixpath.dirname(location.rstrip("/"))


def s3_endpoint() -> str | None:
    """The S3 endpoint the AWS tools use: AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def s3_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


@functools.cache
def s3_filesystem() -> pyarrow.fs.S3FileSystem:
    """One per process, from the environment. allow_delayed_open: a small object is one PUT
    when it is closed, not a multipart upload (three requests)."""
    from pyarrow import fs

    endpoint = s3_endpoint()
    options: dict[str, object] = {"region": s3_region(), "allow_delayed_open": True}
    if endpoint:
        split = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        options.update(endpoint_override=split.netloc, scheme=split.scheme or "https")
    return fs.S3FileSystem(**options)


_S3_CLIENT_LOCK = threading.Lock()  # boto3 makes its default session and clients unsafely across threads
# Objects in S3 are fetched this many at a time by each reader: each is a request of a few
# milliseconds, which a reader would otherwise spend waiting.
S3_REQUESTS = 16


@functools.cache
def s3_client() -> Any:  # boto3's S3 client (boto3 ships no types)
    """One per process, from the same environment as s3_filesystem (boto3 reads it itself)."""
    with _S3_CLIENT_LOCK:
        try:
            import boto3
            from botocore.config import Config
        except ModuleNotFoundError:
            raise NewsdropError('s3:// inboxes and data folders need pip install "newsdrop[scale]" '
                                "(boto3 is not installed)") from None

        session = boto3.session.Session()
        return session.client("s3", region_name=s3_region(), endpoint_url=s3_endpoint(),
                              config=Config(max_pool_connections=S3_REQUESTS))


def s3_key(url: str) -> str:
    """bucket/key, as pyarrow's S3 file system names an object."""
    return url.removeprefix(S3)


def check_bucket(url: str) -> None:
    """The bucket of an s3:// URL exists and answers: one line naming what to fix otherwise."""
    from pyarrow import fs

    bucket = s3_key(url).split("/", 1)[0]
    where = s3_endpoint() or "AWS S3"
    try:
        info = s3_filesystem().get_file_info(bucket)
    except OSError as error:
        raise NewsdropError(f"cannot reach the bucket {bucket!r} at {where}: {first_line(error)[:200]} "
                            "(check AWS_ENDPOINT_URL and the AWS keys)") from None
    if info.type == fs.FileType.NotFound:
        raise NewsdropError(f"no bucket {bucket!r} at {where}: give an existing bucket in {url}")


@dataclass(frozen=True)
class ObjectInfo:
    name: str  # the part after the listed prefix
    size_bytes: int
    mtime_ns: int


def list_objects(url: str) -> list[ObjectInfo]:
    """The objects directly under an s3:// prefix (not its sub-prefixes)."""
    from pyarrow import fs

    prefix = s3_key(url).rstrip("/")
    try:
        infos = s3_filesystem().get_file_info(fs.FileSelector(prefix, recursive=False, allow_not_found=True))
    except OSError as error:
        raise NewsdropError(f"cannot list {url}: {first_line(error)}") from None
    return [ObjectInfo(posixpath.basename(info.path), info.size, info.mtime_ns or 0)
            for info in infos if info.type == fs.FileType.File]


def open_input(location: str) -> BinaryIO:
    """A local file or an object, read as a stream; FileNotFoundError when it is not there."""
    if is_s3(location):
        return cast(BinaryIO, s3_filesystem().open_input_stream(s3_key(location)))
    return open(location, "rb")


def open_output(location: str) -> BinaryIO:
    """A local file or an object, written as a stream (an object appears when it is closed)."""
    if is_s3(location):
        return cast(BinaryIO, s3_filesystem().open_output_stream(s3_key(location)))
    return open(location, "wb")


def make_durable(location: str) -> None:
    """A local file's bytes on disk before anything records it (fsync); an S3 object is durable
    once its upload completes."""
    if is_s3(location):
        return
    descriptor = os.open(location, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_bytes(location: str) -> bytes:
    """A local file's or an object's bytes (an object in one GET); FileNotFoundError when it is
    not there, PermissionError when it may not be read."""
    if not is_s3(location):
        with open(location, "rb") as file:
            return file.read()
    client = s3_client()  # first: without boto3 it says what to install
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = s3_key(location).split("/", 1)
    try:
        return bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404"):
            raise FileNotFoundError(location) from None
        if code in ("AccessDenied", "403"):
            raise PermissionError(13, "access denied", location) from None
        raise OSError(f"cannot read {location}: {first_line(error)}") from None
    except BotoCoreError as error:
        raise OSError(f"cannot read {location}: {first_line(error)}") from None


def move(source: str, target: str) -> None:
    """A file renamed, or an object copied then deleted (S3 has no rename)."""
    if is_s3(source):
        filesystem = s3_filesystem()
        filesystem.copy_file(s3_key(source), s3_key(target))
        filesystem.delete_file(s3_key(source))
        return
    try:
        os.replace(source, target)
    except FileNotFoundError:
        if not os.path.exists(source):
            raise
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.replace(source, target)


def remove(location: str) -> None:
    """A file or object gone, if it was there."""
    if not is_s3(location):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(location)
        return
    with contextlib.suppress(FileNotFoundError):
        s3_filesystem().delete_file(s3_key(location))


def remove_tree(location: str) -> None:
    """A folder, or every object under a prefix, gone."""
    if not is_s3(location):
        import shutil

        shutil.rmtree(location, ignore_errors=True)
        return
    s3_filesystem().delete_dir_contents(s3_key(location), missing_dir_ok=True)

