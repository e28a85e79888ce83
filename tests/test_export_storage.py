"""Finished exports live wherever STORAGES["exports"] says: the export, its download, the purge and the size cap
work through Django's storage API, on a backend that is not this machine's disk as on the default one."""

import io

import pytest
from django.core.files.storage import InMemoryStorage
from django.core.management import call_command
from export_support import data_rows, folder_names, workbook
from factories import client_for, make_contact, make_user

from contacts.exports.storage import exports_storage
from contacts.models import ContactExport


@pytest.fixture
def memory_storage(settings) -> InMemoryStorage:
    """Exports kept in memory by Django's InMemoryStorage, a backend with no files on disk at all."""
    settings.STORAGES = {**settings.STORAGES, "exports": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    storage = exports_storage()
    assert isinstance(storage, InMemoryStorage)
    return storage


@pytest.fixture
def exporter(db):
    for name in ("张三", "李四", "王五"):
        make_contact(name=name)
    return client_for(
        make_user("exporter", "contacts.view_contact", "contacts.export_contact", "contacts.view_all_contacts")
    )


def export(client) -> dict:
    response = client.get("/api/contacts/export")
    assert response.status_code == 200, response.content
    return response.json()["data"]


def test_an_export_is_published_to_the_configured_storage_and_downloaded_from_it(memory_storage, exporter):
    """The finished workbook is in the storage, not in the local folder, and its link serves it from there."""
    answer = export(exporter)
    assert memory_storage.exists(answer["filename"])
    assert folder_names() == []
    download = exporter.get(answer["download_url"])
    assert download.status_code == 200
    book = workbook(b"".join(download.streaming_content))
    assert sorted(row[1] for row in data_rows(book["联系记录"])) == ["张三", "李四", "王五"]


def test_the_purge_removes_exports_from_the_configured_storage(memory_storage, exporter):
    """`purge_exports --days 0` removes the storage's exports and marks their history rows."""
    answer = export(exporter)
    out = io.StringIO()
    call_command("purge_exports", "--days", "0", stdout=out)
    assert out.getvalue().splitlines()[0].startswith(f"removed {answer['filename']}: ")
    assert not memory_storage.exists(answer["filename"])
    assert ContactExport.objects.get().purged_at is not None
    assert exporter.get(answer["download_url"]).status_code == 404


def test_the_size_cap_holds_in_the_configured_storage(memory_storage, exporter, settings):
    """Past EXPORT_STORAGE_MAX_BYTES the older export leaves the storage, the new one stays."""
    settings.EXPORT_STORAGE_MAX_BYTES = 1
    first, second = export(exporter), export(exporter)
    assert not memory_storage.exists(first["filename"])
    assert memory_storage.exists(second["filename"])
