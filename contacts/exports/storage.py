"""Where export files live: finished ones in the exports storage, scratch ones on this machine's disk.

Finished files are published, opened, listed and deleted through Django's storage API, the storage
STORAGES["exports"] names. Its default, ExportsFileSystemStorage, keeps them in <MEDIA_ROOT>/exports;
with EXPORT_STORAGE=s3 it is ExportsS3Storage (s3_storage.py), a bucket every instance shares. An
export is written on this machine's disk first, in the scratch folder (<MEDIA_ROOT>/exports too), and
published when complete.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
import tempfile
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol, runtime_checkable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages

FILENAME_RE = re.compile(r"contacts_export_[0-9]{8}_[0-9]{6}_[0-9a-f]{8}\.(?:xlsx|csv)")
FOLDER = "exports"


def scratch_dir() -> Path:
    """The folder on this machine's disk where exports are written before they are published.

    A media root that is not an absolute path is a configuration error.
    """
    root = str(settings.MEDIA_ROOT or "")
    if not root or not os.path.isabs(root):
        raise ImproperlyConfigured("MEDIA_ROOT (DJANGO_MEDIA_ROOT) must be set to an absolute path for exports.")
    return Path(root) / FOLDER


class ExportsFileSystemStorage(FileSystemStorage):
    """Finished exports on this machine's disk, in <MEDIA_ROOT>/exports unless a `location` is given.

    Django's FileSystemStorage, except that a file appears under its name whole or not at all and
    never replaces another (it is written beside its name under a scratch name, then hard-linked
    there), and that only regular files are listed or opened: a symbolic link is never followed.
    """

    @cached_property
    def base_location(self) -> str:
        return str(scratch_dir()) if self._location is None else self._location

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return name  # a taken name is refused by _save, not replaced by another

    def _save(self, name: str, content: File) -> str:
        final = self.path(name)
        folder = os.path.dirname(final)
        os.makedirs(folder, exist_ok=True)
        fd, scratch = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(name)}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as target:
                for chunk in content.chunks():
                    target.write(chunk)
                target.flush()
                os.fsync(target.fileno())
            _link_into_place(scratch, final)
        finally:
            with suppress(FileNotFoundError):
                os.remove(scratch)
        return name

    def _open(self, name: str, mode: str = "rb") -> File:
        """Read only, and only a regular file: anything else (a link included) is FileNotFoundError."""
        if mode != "rb":
            raise ValueError("exports are opened for reading only")
        try:
            fd = os.open(self.path(name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:  # ELOOP for a symbolic link
            raise FileNotFoundError(name) from exc
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise FileNotFoundError(name)
        return File(os.fdopen(fd, "rb"), name=name)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        """The folders and the regular files directly in `path`; links and anything else are left out."""
        folders, files = [], []
        with os.scandir(self.path(path)) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.name)
                elif entry.is_file(follow_symlinks=False):
                    files.append(entry.name)
        return folders, files


def _link_into_place(scratch: str, final: str) -> None:
    try:
        os.link(scratch, final)
    except FileExistsError:
        raise
    except OSError:
        # A file system without hard links: the check and the rename are two steps there, but the
        # final name was reserved by the export's history row, so nothing else writes it.
        if os.path.lexists(final):
            raise FileExistsError(final) from None
        os.rename(scratch, final)


def exports_storage() -> Storage:
    return storages["exports"]


@dataclass(frozen=True)
class StoredExport:
    name: str
    size: int
    modified: dt.datetime


def export_file_publish(*, name: str, path: Path) -> int:
    """Publish the finished file at `path` under `name`; FileExistsError when the name is taken.

    Returns the published file's size.
    """
    with open(path, "rb") as handle:
        exports_storage().save(name, File(handle, name=name))
    return path.stat().st_size


def export_file_open(*, name: str) -> File:
    """The finished export `name`, opened for reading; FileNotFoundError for anything but an export's name."""
    if not FILENAME_RE.fullmatch(name):
        raise FileNotFoundError(name)
    return exports_storage().open(name, "rb")


@runtime_checkable
class ListsFilesWithSizes(Protocol):
    """A storage whose one listing also gives each file's size and time (an object store's does)."""

    def files_listed(self) -> Iterable[tuple[str, int, dt.datetime]]: ...


def export_files() -> list[StoredExport]:
    """Every finished export in the storage, by name."""
    storage = exports_storage()
    if isinstance(storage, ListsFilesWithSizes):
        listed = [StoredExport(*entry) for entry in storage.files_listed()]
        return sorted((stored for stored in listed if FILENAME_RE.fullmatch(stored.name)), key=lambda s: s.name)
    try:
        _, names = storage.listdir("")
    except FileNotFoundError:
        return []
    found = []
    for name in sorted(names):
        if not FILENAME_RE.fullmatch(name):
            continue
        try:
            found.append(StoredExport(name=name, size=storage.size(name), modified=storage.get_modified_time(name)))
        except FileNotFoundError:
            continue
    return found


def export_file_delete(*, name: str) -> None:
    exports_storage().delete(name)
