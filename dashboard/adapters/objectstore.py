"""Small objects kept outside the database: a directory, or a Cloud Storage bucket.

The audit trail's signed checkpoints live here, so that whoever can edit the database cannot
also move the anchor. `gs://bucket/prefix` goes through google-cloud-storage (the
STORAGE_EMULATOR_HOST variable points it elsewhere, as Google's own emulators do); anything
else is a directory path.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from google.auth.exceptions import GoogleAuthError

from dashboard.adapters.errors import AdapterError, retryable_status


class DirectoryStore:
    def __init__(self, path: str) -> None:
        self.root = Path(path)

    def read(self, name: str) -> bytes | None:
        try:
            return (self.root / name).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AdapterError(f"cannot read {name}: {exc.strerror}", retryable=False,
                               api="files") from exc

    def write(self, name: str, data: bytes) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Write then rename: a reader never sees half an object.
            fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.root / name)
        except OSError as exc:
            raise AdapterError(f"cannot write {name}: {exc.strerror}", retryable=False,
                               api="files") from exc


class CloudStorageStore:
    def __init__(self, url: str, client: Any = None) -> None:
        bucket, _, prefix = url.removeprefix("gs://").partition("/")
        self.bucket_name = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from google.cloud import storage  # type: ignore[attr-defined]

            self._client = storage.Client()
        return self._client

    def _blob(self, name: str) -> Any:
        return self.client.bucket(self.bucket_name).blob(self.prefix + name)

    def read(self, name: str) -> bytes | None:
        from google.api_core import exceptions

        try:
            return self._blob(name).download_as_bytes()  # type: ignore[no-any-return]
        except exceptions.NotFound:
            return None
        except exceptions.GoogleAPICallError as exc:
            status = int(exc.code or 0)
            raise AdapterError(f"Cloud Storage: cannot read {name} ({status})",
                               retryable=retryable_status(status), status=status,
                               api="storage") from exc
        except (requests.RequestException, GoogleAuthError) as exc:  # unreachable, no credentials
            raise AdapterError(f"Cloud Storage: cannot read {name} ({type(exc).__name__})",
                               retryable=True, api="storage") from exc

    def write(self, name: str, data: bytes) -> None:
        from google.api_core import exceptions

        try:
            self._blob(name).upload_from_string(data, content_type="application/json")
        except exceptions.GoogleAPICallError as exc:
            status = int(exc.code or 0)
            raise AdapterError(f"Cloud Storage: cannot write {name} ({status})",
                               retryable=retryable_status(status), status=status,
                               api="storage") from exc
        except (requests.RequestException, GoogleAuthError) as exc:  # unreachable, no credentials
            raise AdapterError(f"Cloud Storage: cannot write {name} ({type(exc).__name__})",
                               retryable=True, api="storage") from exc


def open_store(url: str) -> DirectoryStore | CloudStorageStore:
    if url.startswith("gs://"):
        return CloudStorageStore(url)
    return DirectoryStore(url)


def configured() -> DirectoryStore | CloudStorageStore:
    """The store of settings.AUDIT_CHECKPOINT_URL (the audit trail's checkpoints)."""
    return open_store(settings.AUDIT_CHECKPOINT_URL)
