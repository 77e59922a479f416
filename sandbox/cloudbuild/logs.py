"""Build logs as GCS objects: `log-{build_id}.txt` in the logs bucket, served the way GCS does.

Readers tail a log by byte offset, like gcloud's `builds log --stream`: a media download with
`Range: bytes=N-` answers 206 with the new bytes, 416 when nothing is new past N, and 404 while
the object does not exist yet (the build is still QUEUED). The JSON API paths are the ones
google-cloud-storage uses; `GET /{bucket}/{object}` is the XML-API form gcloud polls.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web

from .shapes import PROJECT_NUMBER, error_response, now, rfc3339

try:  # google-crc32c comes with google-cloud-storage; only used for full-object hashes
    import google_crc32c
except ImportError:  # pragma: no cover
    google_crc32c = None  # type: ignore[assignment]


@dataclass
class LogObject:
    bucket: str
    name: str
    data: bytearray = field(default_factory=bytearray)
    created: datetime = field(default_factory=now)
    updated: datetime = field(default_factory=now)

    @property
    def generation(self) -> str:
        return str(int(self.created.timestamp() * 1_000_000))

    def append(self, text: str) -> None:
        self.data.extend(text.encode())
        self.updated = now()

    def metadata(self, public_url: str) -> dict[str, object]:
        data = bytes(self.data)
        meta: dict[str, object] = {
            "kind": "storage#object",
            "id": f"{self.bucket}/{self.name}/{self.generation}",
            "selfLink": f"{public_url}/storage/v1/b/{self.bucket}/o/{self.name}",
            "mediaLink": f"{public_url}/download/storage/v1/b/{self.bucket}/o/{self.name}"
            f"?generation={self.generation}&alt=media",
            "name": self.name,
            "bucket": self.bucket,
            "generation": self.generation,
            "metageneration": "1",
            "contentType": "text/plain; charset=utf-8",
            "storageClass": "STANDARD",
            "size": str(len(data)),
            "md5Hash": base64.b64encode(hashlib.md5(data).digest()).decode(),  # noqa: S324
            "timeCreated": rfc3339(self.created),
            "updated": rfc3339(self.updated),
        }
        if google_crc32c is not None:
            meta["crc32c"] = _crc32c(data)
        return meta


def _crc32c(data: bytes) -> str:
    return base64.b64encode(google_crc32c.value(data).to_bytes(4, "big")).decode()


def split_logs_bucket(logs_bucket: str) -> tuple[str, str]:
    """`gs://bucket/some/prefix` -> ("bucket", "some/prefix/") as Cloud Build uses it."""
    rest = logs_bucket.removeprefix("gs://").strip("/")
    bucket, _, prefix = rest.partition("/")
    return bucket, (prefix + "/") if prefix else ""


class LogStore:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], LogObject] = {}
        self.buckets: set[str] = set()

    def create(self, logs_bucket: str, build_id: str) -> LogObject:
        bucket, prefix = split_logs_bucket(logs_bucket)
        obj = LogObject(bucket, f"{prefix}log-{build_id}.txt")
        self.objects[(bucket, obj.name)] = obj
        self.buckets.add(bucket)
        return obj

    def get(self, bucket: str, name: str) -> LogObject | None:
        return self.objects.get((bucket, name))

    def clear(self) -> None:
        self.objects.clear()


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def media_response(obj: LogObject | None, range_header: str | None) -> web.Response:
    if obj is None:
        return error_response(404, "No such object.")
    data = bytes(obj.data)
    size = len(data)
    headers = {
        "x-goog-generation": obj.generation,
        "x-goog-metageneration": "1",
        "x-goog-stored-content-length": str(size),
        "Accept-Ranges": "bytes",
    }
    m = _RANGE.match((range_header or "").strip())
    if not m or (not m.group(1) and not m.group(2)):
        hashes = [f"md5={base64.b64encode(hashlib.md5(data).digest()).decode()}"]  # noqa: S324
        if google_crc32c is not None:
            hashes.insert(0, f"crc32c={_crc32c(data)}")
        headers["x-goog-hash"] = ",".join(hashes)
        return web.Response(body=data, content_type="text/plain", charset="utf-8", headers=headers)
    if m.group(1):
        start = int(m.group(1))
        end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    else:  # bytes=-N: the last N bytes
        start, end = max(size - int(m.group(2)), 0), size - 1
    if start >= size or start > end:
        headers["Content-Range"] = f"bytes */{size}"
        resp = error_response(416, "The requested range cannot be satisfied.")
        resp.headers.update(headers)
        return resp
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return web.Response(
        status=206,
        body=data[start : end + 1],
        content_type="text/plain",
        charset="utf-8",
        headers=headers,
    )


def add_routes(app: web.Application, store: LogStore, public_url: str) -> None:
    async def bucket_meta(request: web.Request) -> web.Response:
        name = request.match_info["bucket"]
        if name not in store.buckets:
            return error_response(404, "The specified bucket does not exist.")
        return web.json_response(
            {
                "kind": "storage#bucket",
                "id": name,
                "name": name,
                "projectNumber": PROJECT_NUMBER,
                "location": "US",
                "storageClass": "STANDARD",
                "metageneration": "1",
                "timeCreated": "2026-01-01T00:00:00.000Z",
                "updated": "2026-01-01T00:00:00.000Z",
            }
        )

    async def list_objects(request: web.Request) -> web.Response:
        bucket = request.match_info["bucket"]
        prefix = request.query.get("prefix", "")
        items = [
            o.metadata(public_url)
            for (b, n), o in sorted(store.objects.items())
            if b == bucket and n.startswith(prefix)
        ]
        return web.json_response({"kind": "storage#objects", "items": items})

    async def object_meta(request: web.Request) -> web.Response:
        obj = store.get(request.match_info["bucket"], request.match_info["object"])
        if request.query.get("alt") == "media":
            return media_response(obj, request.headers.get("Range"))
        if obj is None:
            return error_response(
                404,
                f"No such object: {request.match_info['bucket']}/{request.match_info['object']}",
            )
        return web.json_response(obj.metadata(public_url))

    async def media(request: web.Request) -> web.Response:
        obj = store.get(request.match_info["bucket"], request.match_info["object"])
        return media_response(obj, request.headers.get("Range"))

    app.router.add_get("/storage/v1/b/{bucket}", bucket_meta)
    app.router.add_get("/storage/v1/b/{bucket}/o", list_objects)
    app.router.add_get("/storage/v1/b/{bucket}/o/{object:.+}", object_meta)
    app.router.add_get("/download/storage/v1/b/{bucket}/o/{object:.+}", media)
    # storage.googleapis.com/{bucket}/{object}: what gcloud's log tailer requests. Registered
    # last and never matching the API prefixes, so unknown API paths still get API errors.
    app.router.add_get("/{bucket:(?!v1$|storage$|download$|sandbox$)[^/]+}/{object:.+}", media)
