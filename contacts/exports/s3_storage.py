"""Finished exports in an S3 bucket that every instance of the service shares (EXPORT_STORAGE=s3).

django-storages' S3Storage, held to the exports storage's rules: a name is written once (an upload
under a taken name is refused; S3 makes an upload appear whole or not at all), objects get no public
ACL, and a file is read back by the service as a stream, since its signed links point at the service,
never at the bucket. Imported only when configured, so the default setup never loads boto3.
"""

from __future__ import annotations

import datetime as dt
import posixpath
from collections.abc import Iterator

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from django.core.files import File
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

# An upload of a large export goes in 8 MiB parts, two at a time: a worker's memory stays small.
UPLOAD_CONFIG = TransferConfig(multipart_chunksize=8 * 1024 * 1024, max_concurrency=2)


class ExportsS3Storage(S3Storage):
    def get_default_settings(self) -> dict:
        return {**super().get_default_settings(), "file_overwrite": False, "transfer_config": UPLOAD_CONFIG}

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return name  # a taken name is refused by _save, not replaced by another

    def _save(self, name: str, content: File) -> str:
        if self.exists(name):
            raise FileExistsError(name)
        return super()._save(name, content)

    def _open(self, name: str, mode: str = "rb") -> File:
        """The object as a stream with its size; FileNotFoundError when there is none by that name."""
        if mode != "rb":
            raise ValueError("exports are opened for reading only")
        try:
            answer = self.bucket.Object(self._normalize_name(clean_name(name))).get()
        except ClientError as exc:
            if exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
                raise FileNotFoundError(name) from exc
            raise
        stream = File(answer["Body"], name=name)
        stream.size = answer["ContentLength"]
        return stream

    def files_listed(self) -> Iterator[tuple[str, int, dt.datetime]]:
        """(name, size, last modified) of every file directly in the storage, a thousand to a request."""
        prefix = self._normalize_name("")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        pages = self.connection.meta.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket_name, Prefix=prefix, Delimiter="/"
        )
        for page in pages:
            for entry in page.get("Contents", ()):
                if entry["Key"] != prefix:
                    yield posixpath.relpath(entry["Key"], prefix or "."), entry["Size"], entry["LastModified"]
