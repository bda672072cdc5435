"""Where uploaded files live: one interface, two backends chosen by ``STORAGE_URL``.

- ``file:///srv/linli/uploads`` (the default: ``instance/uploads``): a directory on this host. Each object
  is written to a temporary file and renamed into place, so a reader never sees half a file. Right for one
  host (or a directory every host mounts); Linli streams the bytes itself.
- ``s3://bucket/prefix?endpoint=http://minio:9000&region=cn-east-1``: S3-compatible object storage through
  boto3. Credentials come from the URL (``s3://KEY:SECRET@bucket/prefix``, URL-encoded) or, when the URL
  has none, from boto3's usual sources (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a profile, an
  instance role). Other parameters: ``addressing=path|virtual|auto`` (default ``path`` with an
  ``endpoint``, else ``auto``).

Every caller uses the same five operations (``put``, ``get``, ``delete``, ``exists``, ``url_for``) and
``list`` (for the sweep of objects no row names); only the backend differs. Keys are relative, made of
``[A-Za-z0-9._/-]``, never ``..`` and never absolute, so a key cannot leave the directory or the prefix.
"""
from __future__ import annotations

import hashlib
import base64
import logging
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger("linli.storage")

_KEY = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")


class StorageError(RuntimeError):
    """The storage could not be reached or refused the operation (retry later)."""


class ObjectMissing(StorageError):
    """No object under that key."""


class StorageConfigError(ValueError):
    """``STORAGE_URL`` cannot be used; the message says why."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    modified_at: datetime  # aware, UTC
    size: int


def check_key(key: str) -> str:
    if (not isinstance(key, str) or len(key) > 512 or not _KEY.fullmatch(key)
            or any(part in (".", "..") for part in key.split("/"))):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class Storage:
    """The interface every backend implements."""

    name = "storage"

    def put(self, key: str, data: bytes, content_type: str) -> None:
        raise NotImplementedError

    def get(self, key: str) -> bytes:
        """The object's bytes; ObjectMissing when there is none."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        """Remove the object; nothing happens when there is none."""
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def url_for(self, key: str, expires: int) -> str | None:
        """A link that reads the object directly for ``expires`` seconds, or None when the backend has none
        (then Linli streams the bytes itself)."""
        return None

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        """Every object whose key starts with ``prefix``."""
        raise NotImplementedError

    def describe(self) -> str:
        return self.name


# --- a directory on disk --------------------------------------------------------------------------------------

class FileStorage(Storage):
    name = "file"

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StorageError(f"cannot write {key}: {exc.strerror or exc}") from exc

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectMissing(key) from None
        except OSError as exc:
            raise StorageError(f"cannot read {key}: {exc.strerror or exc}") from exc

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot delete {key}: {exc.strerror or exc}") from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        if not self.root.is_dir():
            return
        for directory, _, files in os.walk(self.root):
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                path = Path(directory) / name
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix) and _KEY.fullmatch(key):
                    try:
                        stat = path.stat()
                    except FileNotFoundError:  # deleted meanwhile
                        continue
                    yield StoredObject(key, datetime.fromtimestamp(stat.st_mtime, timezone.utc), stat.st_size)

    def describe(self) -> str:
        return f"file://{self.root}"


# --- S3-compatible object storage -----------------------------------------------------------------------------

class S3Storage(Storage):
    name = "s3"

    def __init__(self, bucket: str, prefix: str = "", *, endpoint: str | None = None, region: str | None = None,
                 access_key: str | None = None, secret_key: str | None = None, addressing: str | None = None,
                 timeout: float = 10.0):
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint = endpoint
        self.region = region
        self._credentials = (access_key, secret_key)
        self.addressing = addressing or ("path" if endpoint else "auto")
        self.timeout = timeout
        self._client = None
        self._pid = None
        self._lock = threading.Lock()

    @property
    def client(self):
        """One boto3 client per process (clients are thread-safe, but not to be shared across a fork)."""
        if self._client is None or self._pid != os.getpid():
            with self._lock:
                if self._client is None or self._pid != os.getpid():
                    import boto3
                    from botocore.config import Config

                    access_key, secret_key = self._credentials
                    config = Config(
                        signature_version="s3v4", s3={"addressing_style": self.addressing},
                        connect_timeout=self.timeout, read_timeout=max(self.timeout, 30.0),
                        retries={"max_attempts": 3, "mode": "standard"},
                        # Checksums only where S3 requires them: several S3-compatible servers refuse the newer
                        # trailing checksums. put() sends Content-MD5, and Linli keeps each file's SHA-256.
                        request_checksum_calculation="when_required", response_checksum_validation="when_required")
                    session = boto3.session.Session()
                    self._client = session.client("s3", endpoint_url=self.endpoint, region_name=self.region,
                                                  aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                                                  config=config)
                    self._pid = os.getpid()
        return self._client

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    @staticmethod
    def _missing(exc) -> bool:
        error = getattr(exc, "response", {}).get("Error", {})
        return str(error.get("Code")) in ("NoSuchKey", "404", "NotFound")

    def _call(self, what: str, key: str, fn, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            if self._missing(exc):
                raise ObjectMissing(key) from None
            raise StorageError(f"cannot {what} {key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"cannot {what} {key}: {exc}") from exc

    def put(self, key: str, data: bytes, content_type: str) -> None:
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        self._call("write", key, self.client.put_object, Key=self._key(key), Body=data, ContentType=content_type,
                   ContentMD5=md5)

    def get(self, key: str) -> bytes:
        answer = self._call("read", key, self.client.get_object, Key=self._key(key))
        try:
            return answer["Body"].read()
        except Exception as exc:  # noqa: BLE001 - a connection broken while reading the body
            raise StorageError(f"cannot read {key}: {exc}") from exc
        finally:
            answer["Body"].close()

    def delete(self, key: str) -> None:
        try:
            self._call("delete", key, self.client.delete_object, Key=self._key(key))
        except ObjectMissing:
            pass

    def exists(self, key: str) -> bool:
        try:
            self._call("look up", key, self.client.head_object, Key=self._key(key))
        except ObjectMissing:
            return False
        return True

    def url_for(self, key: str, expires: int) -> str | None:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=int(expires))

    def list(self, prefix: str = "") -> Iterator[StoredObject]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                           Prefix=self.prefix + prefix)
            for page in pages:
                for item in page.get("Contents", ()):
                    key = item["Key"][len(self.prefix):]
                    if _KEY.fullmatch(key):
                        yield StoredObject(key, item["LastModified"].astimezone(timezone.utc), item["Size"])
        except (BotoCoreError, ClientError) as exc:
            raise StorageError(f"cannot list {self.bucket}/{self.prefix}{prefix}: {exc}") from exc

    def describe(self) -> str:
        where = f" at {self.endpoint}" if self.endpoint else ""
        return f"s3://{self.bucket}/{self.prefix}{where}"


# --- choosing one -----------------------------------------------------------------------------------------------

def discard(key: str, retry: str) -> bool:
    """Delete the object ``key`` where losing it now is no harm: a failure is only logged (saying who tries
    again, ``retry``) and answered False."""
    try:
        current().delete(key)
        return True
    except StorageError:
        log.warning("deleting %s failed; %s", key, retry, exc_info=True)
        return False


def from_url(url: str) -> Storage:
    """The backend ``url`` names (see the module's docstring); StorageConfigError when it cannot be used."""
    parts = urlsplit(url or "")
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise StorageConfigError(f"STORAGE_URL={url!r}: a directory is written file:///absolute/path")
        return FileStorage(unquote(parts.path))
    if parts.scheme == "s3":
        bucket = parts.hostname or ""
        if not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", bucket):
            raise StorageConfigError(f"STORAGE_URL: {bucket!r} is not an S3 bucket name "
                                     "(s3://bucket/prefix?endpoint=…&region=…)")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"endpoint", "region", "addressing"}
        if unknown:
            raise StorageConfigError(f"STORAGE_URL: unknown parameter(s) {', '.join(sorted(unknown))} "
                                     "(endpoint, region, addressing)")
        endpoint = query.get("endpoint")
        if endpoint and urlsplit(endpoint).scheme not in ("http", "https"):
            raise StorageConfigError("STORAGE_URL: endpoint must be an http:// or https:// address")
        if query.get("addressing", "path") not in ("path", "virtual", "auto"):
            raise StorageConfigError("STORAGE_URL: addressing is path, virtual or auto")
        if (parts.username is None) != (parts.password is None):
            raise StorageConfigError("STORAGE_URL: give both the access key and the secret (s3://KEY:SECRET@bucket)")
        return S3Storage(bucket, unquote(parts.path), endpoint=endpoint, region=query.get("region"),
                         access_key=unquote(parts.username) if parts.username else None,
                         secret_key=unquote(parts.password) if parts.password else None,
                         addressing=query.get("addressing"))
    # The URL itself is not repeated: it may hold a secret.
    found = f"{parts.scheme}://" if parts.scheme else "no scheme"
    raise StorageConfigError(f"STORAGE_URL must start with file:// or s3:// (it has {found})")


_current: Storage | None = None
_default_root: Path | None = None


def configure(url: str | None, default_root: str | os.PathLike | None = None) -> Storage:
    """Choose the backend for this process (the app factory calls this with ``STORAGE_URL``); without a URL,
    a directory: ``default_root``."""
    global _current
    if url:
        _current = from_url(url)
    else:
        if default_root is None:
            raise StorageConfigError("no STORAGE_URL and no default directory")
        _current = FileStorage(default_root)
    log.info("uploads are stored in %s", _current.describe())
    return _current


def use(backend: Storage | None) -> Storage | None:
    """Replace the backend (tests); returns the one it replaces."""
    global _current
    previous, _current = _current, backend
    return previous


def current() -> Storage:
    if _current is None:
        raise StorageConfigError("the storage is not configured (service.storage.configure)")
    return _current
