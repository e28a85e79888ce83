"""Exports in shared object storage (EXPORT_STORAGE=s3), against moto's S3 server over HTTP on loopback.

In-process, the exports storage is pointed at a fresh bucket; served, two gunicorn instances with their
own media folders share one database and one bucket, as several machines behind a load balancer do.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from urllib.parse import urlsplit

import boto3
import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from export_support import data_rows, folder_names, workbook
from factories import client_for, make_contact, make_user
from moto.server import ThreadedMotoServer
from served import call, login, manage, prepare_database, served, service_env, suite_database
from services import require_service

from contacts.exports.storage import export_files, exports_storage
from contacts.models import ContactExport
from harness.worker import celery_worker, private_redis, redis_server_problem

EXPORT_PERMS = ("contacts.view_contact", "contacts.export_contact", "contacts.view_all_contacts")
NOT_FOUND = {"code": 404, "msg": "文件不存在或已被清理", "data": None}
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "moto-test", "AWS_SECRET_ACCESS_KEY": "moto-test-secret"}
REGION = "us-east-1"
PREFIX = "exports"


@dataclass(frozen=True)
class Bucket:
    endpoint: str
    name: str

    @property
    def client(self):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def names(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.name, Prefix=f"{PREFIX}/").get("Contents", [])
        return sorted(entry["Key"].removeprefix(f"{PREFIX}/") for entry in listed)

    def read(self, name: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=f"{PREFIX}/{name}")["Body"].read()

    def env(self) -> dict[str, str]:
        """The service's environment for this bucket."""
        return {
            "EXPORT_STORAGE": "s3",
            "EXPORT_S3_BUCKET": self.name,
            "EXPORT_S3_ENDPOINT_URL": self.endpoint,
            "EXPORT_S3_REGION": REGION,
            **CREDENTIALS,
        }


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server, in a thread of this process, listening on a loopback port."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint) -> Bucket:
    made = Bucket(endpoint=s3_endpoint, name=f"exports-{secrets.token_hex(6)}")
    made.client.create_bucket(Bucket=made.name)
    return made


@pytest.fixture
def s3_exports(settings, bucket) -> Bucket:
    """The exports storage is the bucket, configured as EXPORT_STORAGE=s3 configures it."""
    settings.STORAGES = {
        **settings.STORAGES,
        "exports": {
            "BACKEND": "contacts.exports.s3_storage.ExportsS3Storage",
            "OPTIONS": {
                "bucket_name": bucket.name,
                "location": PREFIX,
                "endpoint_url": bucket.endpoint,
                "region_name": REGION,
                "access_key": CREDENTIALS["AWS_ACCESS_KEY_ID"],
                "secret_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            },
        },
    }
    return bucket


@pytest.fixture
def exporter(db):
    return make_user("exporter", *EXPORT_PERMS)


def export(client) -> dict:
    response = client.get("/api/contacts/export")
    assert response.status_code == 200, response.content
    return response.json()["data"]


def download(url: str) -> tuple[int, dict, bytes]:
    parts = urlsplit(url)
    response = Client().get(f"{parts.path}?{parts.query}")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, dict(response.headers), body


# --- one instance, in-process ------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_export_is_published_to_the_bucket_and_its_link_streams_it_from_there(s3_exports, exporter):
    """The file is an object of the bucket, nothing stays on this machine's disk, and the signed link
    serves exactly the object's bytes with its length."""
    made = [make_contact(name=f"联系人{n}") for n in range(3)]
    data = export(client_for(exporter))
    assert s3_exports.names() == [data["filename"]]
    assert folder_names() == []
    status, headers, body = download(data["download_url"])
    assert status == 200
    assert body == s3_exports.read(data["filename"])
    assert headers["Content-Length"] == str(len(body))
    assert headers["Content-Disposition"] == f'attachment; filename="{data["filename"]}"'
    assert sorted(row[0] for row in data_rows(workbook(body).worksheets[0])) == sorted(c.pk for c in made)


@pytest.mark.django_db
def test_an_export_object_is_not_public(s3_exports, exporter):
    """No grant but its owner's: the bucket's objects are read through the service's signed links only."""
    data = export(client_for(exporter))
    grants = s3_exports.client.get_object_acl(Bucket=s3_exports.name, Key=f"{PREFIX}/{data['filename']}")["Grants"]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]
    assert grants[0]["Grantee"]["Type"] == "CanonicalUser"


@pytest.mark.django_db
def test_a_link_to_an_object_gone_from_the_bucket_answers_404(s3_exports, exporter):
    """Removed from the bucket by anyone: the link answers 404 in the envelope, not 500."""
    data = export(client_for(exporter))
    s3_exports.client.delete_object(Bucket=s3_exports.name, Key=f"{PREFIX}/{data['filename']}")
    status, _, body = download(data["download_url"])
    assert (status, json.loads(body)) == (404, NOT_FOUND)


def test_a_taken_name_is_refused_and_the_first_object_stands(s3_exports):
    """Publishing under a name the bucket holds raises FileExistsError and leaves the first file as it was."""
    name = "contacts_export_20260101_000000_0123abcd.xlsx"
    exports_storage().save(name, ContentFile(b"first", name=name))
    with pytest.raises(FileExistsError):
        exports_storage().save(name, ContentFile(b"second", name=name))
    assert s3_exports.read(name) == b"first"


@pytest.mark.django_db
def test_purge_exports_removes_old_objects_from_the_bucket(s3_exports, exporter):
    """The command lists the bucket, removes exports older than --days and marks their history purged."""
    client = client_for(exporter)
    first, second = export(client), export(client)
    out = StringIO()
    call_command("purge_exports", "--days", "0", "--dry-run", stdout=out)
    assert s3_exports.names() == sorted([first["filename"], second["filename"]])
    time.sleep(1)
    call_command("purge_exports", "--days", "0", stdout=StringIO())
    assert s3_exports.names() == []
    assert ContactExport.objects.filter(purged_at__isnull=False).count() == 2
    assert download(first["download_url"])[0] == 404


@pytest.mark.django_db
def test_the_storage_cap_removes_the_oldest_objects_first(s3_exports, exporter, settings):
    """Past EXPORT_STORAGE_MAX_BYTES the oldest objects go, never the export just made."""
    client = client_for(exporter)
    first = export(client)
    size = len(s3_exports.read(first["filename"]))
    settings.EXPORT_STORAGE_MAX_BYTES = size + size // 2
    time.sleep(1)  # S3 times objects to the second
    second = export(client)
    assert s3_exports.names() == [second["filename"]]
    assert ContactExport.objects.get(filename=first["filename"]).purged_at is not None


def test_the_listing_gives_each_objects_size_and_time_from_one_request(s3_exports):
    """export_files() on the bucket: names of exports only, with their sizes and times."""
    before = timezone.now() - dt.timedelta(seconds=5)
    exports_storage().save("contacts_export_20260101_000000_0123abcd.xlsx", ContentFile(b"12345"))
    exports_storage().save("notes.txt", ContentFile(b"not an export"))
    [stored] = export_files()
    assert (stored.name, stored.size) == ("contacts_export_20260101_000000_0123abcd.xlsx", 5)
    assert before <= stored.modified <= timezone.now() + dt.timedelta(seconds=5)


# --- two instances, one database, one bucket ---------------------------------------------------------


def job_finished(port: int, token: str, job_id: int, timeout: float = 90) -> dict:
    """The job as the API answers it once it has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = call(port, "GET", f"/api/contacts/exports/{job_id}", token=token).json()["data"]
        if data["status"] not in ("queued", "running"):
            return data
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} still {data['status']} after {timeout} s")


@pytest.mark.slow
def test_two_instances_serve_each_others_exports_from_the_shared_bucket(tmp_path, bucket):
    """Behind a load balancer: an export made by one instance, at once or as a job on a worker machine,
    downloads byte for byte from the other, whose disk never held it; purge_exports run on either machine
    removes them for both."""
    require_service("redis-server", redis_server_problem)
    with suite_database(tmp_path, "s3_two_instances") as url, private_redis(tmp_path / "redis") as redis:
        machines = {}
        for name in ("first", "second", "worker"):
            # One deployment: one environment, the secret key that signs the links included.
            secret = {"DJANGO_SECRET_KEY": machines["first"]["DJANGO_SECRET_KEY"]} if machines else {}
            machines[name] = service_env(url, tmp_path / name, **bucket.env(), CELERY_BROKER_URL=redis.url, **secret)
        prepare_database(machines["first"], contacts=500)
        with (
            served(machines["first"], tmp_path / "first" / "logs") as first,
            served(machines["second"], tmp_path / "second" / "logs") as second,
            celery_worker(machines["worker"], tmp_path / "worker" / "logs"),
        ):
            token = login(first.port)
            made = call(first.port, "GET", "/api/contacts/export", token=token, timeout=120)
            assert made.status == 200, made.body
            accepted = call(first.port, "POST", "/api/contacts/exports", token=token)
            assert accepted.status == 202, accepted.body
            job = job_finished(second.port, token, accepted.json()["data"]["id"])
            assert job["status"] == "succeeded", job

            links = []
            for data in (made.json()["data"], job):
                parts = urlsplit(data["download_url"])
                links.append(f"{parts.path}?{parts.query}")
                fetched = call(second.port, "GET", links[-1])
                assert fetched.status == 200
                assert fetched.body == bucket.read(data["filename"])
                assert len(data_rows(workbook(fetched.body).worksheets[0])) == data["total_records"] == 500
            for name in machines:
                assert not list((tmp_path / name / "media").rglob("*.xlsx")), name

            time.sleep(1)
            manage(machines["second"], "purge_exports", "--days", "0")
            assert bucket.names() == []
            for instance in (first, second):
                for link in links:
                    assert call(instance.port, "GET", link).status == 404
