"""The published OpenAPI document: valid, public, complete, and true to what the API really answers."""

import re
from typing import Any

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from django.db.backends.utils import CursorWrapper
from drf_spectacular.checks import schema_check
from factories import client_for, make_user
from import_support import csv_bytes
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from rest_framework.test import APIClient

from contacts.api import schema as api_schema
from contacts.api.serializers import ContactSerializer
from contacts.exports.services import export_job_run
from contacts.filters import (
    DAY_PATTERN,
    EARLIEST_DATE,
    LATEST_DATE,
    ORDERINGS,
    SEARCH_MAX_LENGTH,
    TextParamField,
)
from contacts.models import Contact, ReplyStatus
from contacts.validators import NO_CONTROL_CHARACTERS_PATTERN

pytestmark = pytest.mark.django_db

SUCCESS_AND_ERRORS = {
    "auth_token_create": {"200", "400", "401", "406", "413", "415", "429", "500", "503"},
    "auth_token_refresh_create": {"200", "400", "401", "406", "413", "415", "429", "500", "503"},
    "auth_logout_create": {"200", "400", "401", "406", "413", "415", "429", "500", "503"},
    "contacts_list": {"200", "400", "401", "403", "406", "500", "503"},
    "contacts_create": {"201", "400", "401", "403", "406", "413", "415", "500", "503"},
    "contacts_retrieve": {"200", "401", "403", "404", "406", "500", "503"},
    "contacts_partial_update": {"200", "400", "401", "403", "404", "406", "413", "415", "500", "503"},
    "contacts_export_retrieve": {"200", "400", "401", "403", "406", "429", "500", "503"},
    "contacts_stats_retrieve": {"200", "400", "401", "403", "406", "500", "503"},
    "contacts_exports_create": {"202", "400", "401", "403", "406", "413", "415", "429", "500", "503"},
    "contacts_exports_list": {"200", "400", "401", "403", "406", "500", "503"},
    "contacts_exports_retrieve": {"200", "401", "403", "404", "406", "500", "503"},
    "contacts_exports_destroy": {"200", "401", "403", "404", "406", "409", "500", "503"},
    "contacts_import_create": {"200", "400", "401", "403", "406", "413", "415", "500", "503"},
    "health_retrieve": {"200", "406", "500", "503"},
    "schema_retrieve": {"200", "406", "500"},
    "exports_download": {"200", "403", "404"},
}
PUBLIC = {
    "auth_token_create",
    "auth_token_refresh_create",
    "auth_logout_create",
    "health_retrieve",
    "schema_retrieve",
    "exports_download",
}
FILTERS = [
    "account_id",
    "end_date",
    "ordering",
    "reply_status",
    "search",
    "start_date",
    "wechat_exchanged",
    "worker_id",
]


@pytest.fixture
def document(anon) -> dict[str, Any]:
    response = anon.get("/api/schema")
    assert response.status_code == 200
    return response.json()


def operations(document: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (method, path, operation)."""
    return {
        operation["operationId"]: (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def parameters(operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {parameter["name"]: parameter for parameter in operation.get("parameters", [])}


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def assert_answer_matches_schema(document: dict[str, Any], method: str, path: str, response: Any) -> None:
    """`response` has a status the operation documents, its content type, and a body its schema accepts."""
    operation = document["paths"][path][method.lower()]
    status = str(response.status_code)
    assert status in operation["responses"], f"{method} {path} answered an undocumented {status}"
    response_object = operation["responses"][status]
    location = ["paths", path, method.lower(), "responses", status]
    if "$ref" in response_object:
        name = response_object["$ref"].rpartition("/")[2]
        response_object = document["components"]["responses"][name]
        location = ["components", "responses", name]
    media_type = response["Content-Type"].partition(";")[0]
    assert media_type in response_object["content"], f"{media_type} is not documented for {status}"
    registry = Registry().with_resource("urn:api", Resource.from_contents(document, default_specification=DRAFT202012))
    pointer = _pointer(*location, "content", media_type, "schema")
    validator = Draft202012Validator(
        {"$ref": f"urn:api#/{pointer}"}, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    errors = [error.message for error in validator.iter_errors(response.json())]
    assert errors == [], f"{method} {path} {status}: {errors}"


def test_the_schema_is_public_valid_openapi_3_1_json(anon):
    """Anyone can fetch the document, as JSON by default, and an OpenAPI validator accepts it."""
    response = anon.get("/api/schema", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    document = response.json()
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_the_schema_is_yaml_when_asked_for(anon, document):
    """`Accept: application/yaml` gives the same document as YAML."""
    response = anon.get("/api/schema/", HTTP_ACCEPT="application/yaml")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/yaml")
    assert yaml.safe_load(response.content) == document


def test_the_schema_generates_without_warnings():
    """drf-spectacular's warnings are deploy-check warnings: `check --deploy --fail-level WARNING` stays green."""
    assert schema_check(None) == []


def test_every_endpoint_is_documented_with_its_login_requirement(document):
    """Every operation is there; only health, login, refresh, the schema and the download need no Bearer token."""
    found = operations(document)
    assert {name: (method, path) for name, (method, path, _) in found.items()} == {
        "auth_token_create": ("POST", "/api/auth/token"),
        "auth_token_refresh_create": ("POST", "/api/auth/token/refresh"),
        "auth_logout_create": ("POST", "/api/auth/logout"),
        "contacts_list": ("GET", "/api/contacts"),
        "contacts_create": ("POST", "/api/contacts"),
        "contacts_retrieve": ("GET", "/api/contacts/{id}"),
        "contacts_partial_update": ("PATCH", "/api/contacts/{id}"),
        "contacts_export_retrieve": ("GET", "/api/contacts/export"),
        "contacts_stats_retrieve": ("GET", "/api/contacts/stats"),
        "contacts_exports_create": ("POST", "/api/contacts/exports"),
        "contacts_exports_list": ("GET", "/api/contacts/exports"),
        "contacts_exports_retrieve": ("GET", "/api/contacts/exports/{id}"),
        "contacts_exports_destroy": ("DELETE", "/api/contacts/exports/{id}"),
        "contacts_import_create": ("POST", "/api/contacts/import"),
        "health_retrieve": ("GET", "/api/health"),
        "schema_retrieve": ("GET", "/api/schema"),
        "exports_download": ("GET", "/media/exports/{filename}"),
    }
    for name, (_, _, operation) in found.items():
        expected = [] if name in PUBLIC else [{"jwtAuth": []}]
        if name == "contacts_stats_retrieve":  # the admin's dashboard reads it with the admin's session
            expected = [{"jwtAuth": []}, {"cookieAuth": []}]
        assert operation["security"] == expected, name
    assert document["components"]["securitySchemes"] == {
        "jwtAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
        "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
    }


def test_every_operation_documents_its_errors(document):
    """Each operation lists the statuses it can answer with: its success and the errors that apply to it."""
    found = {name: set(operation["responses"]) for name, (_, _, operation) in operations(document).items()}
    assert found == SUCCESS_AND_ERRORS


def test_every_api_answer_is_documented_in_the_envelope(document):
    """Every /api/ response but the document itself is {code, msg, data} with `code` fixed to its status."""
    for name, (_, _, operation) in operations(document).items():
        if name in ("schema_retrieve", "exports_download"):
            continue
        for status, response in operation["responses"].items():
            if "$ref" in response:
                response = document["components"]["responses"][response["$ref"].rpartition("/")[2]]
            schema = response["content"]["application/json"]["schema"]
            assert schema["required"] == ["code", "msg", "data"], (name, status)
            assert schema["properties"]["code"]["enum"] == [int(status)], (name, status)
            if status < "400":
                assert schema["properties"]["msg"]["enum"] == ["success"], (name, status)


def test_list_and_export_take_the_filtersets_parameters_with_their_allowed_values(document):
    """The export takes exactly the list's filters and its own format and columns; the list adds paging; each
    states its values and format."""
    found = operations(document)
    listed = parameters(found["contacts_list"][2])
    exported = parameters(found["contacts_export_retrieve"][2])
    assert sorted(exported) == sorted([*FILTERS, "format", "columns"])
    assert sorted(listed) == sorted([*FILTERS, "page", "page_size"])
    assert all(listed[name] == exported[name] for name in FILTERS)
    assert all(parameter["allowEmptyValue"] is True for parameter in listed.values())
    schemas = {name: parameter["schema"] for name, parameter in listed.items()}
    assert schemas["reply_status"] == {"type": "string", "enum": list(ReplyStatus.values)}
    assert schemas["ordering"] == {"type": "string", "enum": list(ORDERINGS)}
    assert schemas["wechat_exchanged"] == {"type": "boolean"}
    assert schemas["account_id"] == {"type": "integer", "minimum": 1, "maximum": 2_147_483_647}
    assert schemas["search"]["maxLength"] == SEARCH_MAX_LENGTH
    assert schemas["worker_id"]["maxLength"] == Contact._meta.get_field("worker_id").max_length
    for day in ("start_date", "end_date"):
        assert schemas[day] == {"type": "string", "format": "date", "pattern": DAY_PATTERN}
    assert schemas["page"] == {"type": "integer", "minimum": 1, "default": 1}
    assert schemas["page_size"] == {"type": "integer", "minimum": 1, "default": 10}


def test_the_exports_format_and_columns_are_documented_as_validated(document):
    """Both export endpoints take `format` (xlsx, csv) and `columns` (field names, no space, none empty),
    the job's JSON body too; the download documents both file types."""
    found = operations(document)
    exported = parameters(found["contacts_export_retrieve"][2])
    job = found["contacts_exports_create"][2]
    body = job["requestBody"]["content"]["application/json"]["schema"]["properties"]
    for schemas in (
        {name: p["schema"] for name, p in exported.items()},
        {n: p["schema"] for n, p in parameters(job).items()},
    ):
        assert schemas["format"] == {"type": "string", "enum": ["xlsx", "csv"], "default": "xlsx"}
        assert schemas["columns"] == {"type": "string", "pattern": body["columns"]["pattern"]}
    assert body["format"]["enum"] == ["xlsx", "csv"]
    pattern = re.compile(body["columns"]["pattern"])
    assert [bool(pattern.search(text)) for text in ("account_id,name", "id", "id, name", "", "id,,name", "phone")] == [
        True, True, False, False, False, False
    ]  # fmt: skip
    download = document["paths"]["/media/exports/{filename}"]["get"]["responses"]["200"]["content"]
    assert sorted(download) == sorted([api_schema.XLSX_CONTENT_TYPE, "text/csv"])


def test_the_day_pattern_spans_exactly_the_accepted_years():
    """The date parameters' pattern admits EARLIEST_DATE through LATEST_DATE and no year outside them."""
    pattern = re.compile(DAY_PATTERN)
    admitted = [year for year in range(1, 10000) if pattern.fullmatch(f"{year:04d}-06-15")]
    assert admitted == list(range(EARLIEST_DATE.year, LATEST_DATE.year + 1))
    assert (EARLIEST_DATE.month, EARLIEST_DATE.day, LATEST_DATE.month, LATEST_DATE.day) == (1, 1, 12, 31)


def test_the_text_pattern_refuses_exactly_what_the_filter_refuses():
    """search and worker_id's pattern and TextParamField agree on every character up to U+2FFF."""
    pattern = re.compile(NO_CONTROL_CHARACTERS_PATTERN)
    field = TextParamField(required=False, strip=False)
    for code in range(0x3000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        text = f"a{chr(code)}b"
        try:
            field.clean(text)
            accepted = True
        except Exception:
            accepted = False
        assert bool(pattern.fullmatch(text)) == accepted, hex(code)


def test_contact_fields_are_documented_as_the_api_writes_them(document):
    """A contact answer has exactly the serializer's fields, all present, times without an offset."""
    contact = document["components"]["schemas"]["Contact"]
    assert list(contact["properties"]) == ContactSerializer.Meta.fields
    assert contact["required"] == ContactSerializer.Meta.fields
    assert contact["additionalProperties"] is False
    assert contact["properties"]["created_at"]["pattern"] == api_schema.LOCAL_DATETIME_PATTERN
    assert contact["properties"]["contacted_at"]["type"] == ["string", "null"]
    assert contact["properties"]["account_id"]["maximum"] == 2_147_483_647


@pytest.fixture
def seeded(db) -> list[Contact]:
    return [
        Contact.objects.create(name="张三", position="产品经理", contact="13800138000", account_id=1),
        Contact.objects.create(
            name="李四", position="前端工程师", contact="wechat:lisi123", account_id=2, notes="备注"
        ),
    ]


def test_real_answers_of_the_contacts_resource_match_the_schema(document, seeded, admin_api, anon):
    """List, filters, detail, create, change and their errors answer exactly as documented."""
    contact = seeded[0]
    reader_only = client_for(make_user("only-reader", "contacts.view_contact"))
    nobody = client_for(make_user("nobody"))
    checks = [
        ("GET", "/api/contacts", admin_api.get("/api/contacts", {"page_size": 1})),
        ("GET", "/api/contacts", admin_api.get("/api/contacts", {"search": "产品", "reply_status": "未回复"})),
        ("GET", "/api/contacts", admin_api.get("/api/contacts", {"page": 99})),
        ("GET", "/api/contacts", admin_api.get("/api/contacts", {"start_date": "2024-13-01"})),
        ("GET", "/api/contacts", anon.get("/api/contacts")),
        ("GET", "/api/contacts", nobody.get("/api/contacts")),
        ("GET", "/api/contacts", admin_api.get("/api/contacts", HTTP_ACCEPT="text/html")),
        ("GET", "/api/contacts/{id}", admin_api.get(f"/api/contacts/{contact.pk}")),
        ("GET", "/api/contacts/{id}", admin_api.get("/api/contacts/999999")),
        ("POST", "/api/contacts", admin_api.post("/api/contacts", {"name": "王五", "account_id": 3}, format="json")),
        ("POST", "/api/contacts", admin_api.post("/api/contacts", {"name": ""}, format="json")),
        ("POST", "/api/contacts", admin_api.post("/api/contacts", "{", content_type="application/json")),
        ("POST", "/api/contacts", admin_api.post("/api/contacts", "x", content_type="text/plain")),
        ("POST", "/api/contacts", reader_only.post("/api/contacts", {"name": "x", "account_id": 1}, format="json")),
        ("PATCH", "/api/contacts/{id}", admin_api.patch(f"/api/contacts/{contact.pk}", {"reply_status": "已回复"})),
        ("PATCH", "/api/contacts/{id}", admin_api.patch(f"/api/contacts/{contact.pk}", {"reply_status": "x"})),
    ]
    statuses = [response.status_code for _, _, response in checks]
    assert statuses == [200, 200, 200, 400, 401, 403, 406, 200, 404, 201, 400, 400, 415, 403, 200, 400]
    for method, path, response in checks:
        assert_answer_matches_schema(document, method, path, response)


def test_real_answers_of_login_refresh_logout_health_and_export_match_the_schema(document, seeded, admin_user, anon):
    """Login, refresh, logout (and their throttle), health and the export answer exactly as documented."""
    exporter = client_for(admin_user)
    login = anon.post("/api/auth/token", {"username": "boss", "password": "correct-horse-battery-staple"})
    export = exporter.get("/api/contacts/export", {"reply_status": "未回复"})
    refresh = anon.post("/api/auth/token/refresh", {"refresh": login.json()["data"]["refresh"]})
    checks = [
        ("POST", "/api/auth/token", login),
        ("POST", "/api/auth/token", anon.post("/api/auth/token", {"username": "boss", "password": "wrong"})),
        ("POST", "/api/auth/token", anon.post("/api/auth/token", {"username": "boss"})),
        ("POST", "/api/auth/token/refresh", refresh),
        ("POST", "/api/auth/token/refresh", anon.post("/api/auth/token/refresh", {"refresh": "nonsense"})),
        ("POST", "/api/auth/logout", anon.post("/api/auth/logout", {"refresh": refresh.json()["data"]["refresh"]})),
        ("POST", "/api/auth/logout", anon.post("/api/auth/logout", {"refresh": refresh.json()["data"]["refresh"]})),
        ("GET", "/api/health", anon.get("/api/health")),
        ("GET", "/api/contacts/export", export),
        ("GET", "/api/contacts/export", exporter.get("/api/contacts/export", {"ordering": "name"})),
        (
            "GET",
            "/api/contacts/export",
            client_for(make_user("reader2", "contacts.view_contact")).get("/api/contacts/export"),
        ),
    ]
    statuses = [response.status_code for _, _, response in checks]
    assert statuses == [200, 401, 400, 200, 401, 200, 401, 200, 200, 400, 403]
    for method, path, response in checks:
        assert_answer_matches_schema(document, method, path, response)

    filename = export.json()["data"]["filename"]
    download = anon.get(export.json()["data"]["download_url"])
    assert download.status_code == 200
    assert download["Content-Type"] == api_schema.XLSX_CONTENT_TYPE
    assert "200" in document["paths"]["/media/exports/{filename}"]["get"]["responses"]
    for response in (anon.get(f"/media/exports/{filename}?signature=forged"), anon.get(f"/media/exports/{filename}")):
        assert_answer_matches_schema(document, "GET", "/media/exports/{filename}", response)
    missing = anon.get("/media/exports/contacts_export_20240101_000000_00000000.xlsx?signature=x")
    assert missing.status_code in (403, 404)
    assert_answer_matches_schema(document, "GET", "/media/exports/{filename}", missing)

    throttled = [anon.post("/api/auth/token", {"username": "boss", "password": "wrong"}) for _ in range(12)][-1]
    assert throttled.status_code == 429
    assert_answer_matches_schema(document, "POST", "/api/auth/token", throttled)


def test_real_answers_of_the_import_match_the_schema(document, admin_api, anon, settings):
    """The import's report (200 and 400), a refused file, a missing file, JSON, no login, no permission and a
    body past its limit answer exactly as documented."""
    good = csv_bytes([["姓名", "账号 ID"], ["张三", "1"]])
    bad = csv_bytes([["姓名", "账号 ID"], ["张三", "x"]])
    reader_only = client_for(make_user("import-reader", "contacts.view_contact"))

    def send(client, content: bytes, **fields: str):
        return client.post("/api/contacts/import", {"file": SimpleUploadedFile("a.csv", content), **fields})

    settings.IMPORT_MAX_BYTES = 1024 * 1024
    too_big = send(admin_api, b"x" * (1024 * 1024 + 64 * 1024 + 1))
    checks = [
        send(admin_api, good),
        send(admin_api, good, dry_run="true"),
        send(admin_api, bad),
        send(admin_api, b"\x89PNG\x00"),
        admin_api.post("/api/contacts/import", {}),
        admin_api.post("/api/contacts/import", {"file": "x"}, format="json"),
        send(anon, good),
        send(reader_only, good),
        too_big,
    ]
    assert [response.status_code for response in checks] == [200, 200, 400, 400, 400, 415, 401, 403, 413]
    for response in checks:
        assert_answer_matches_schema(document, "POST", "/api/contacts/import", response)


def test_failures_answer_as_documented(document, admin_api, anon, monkeypatch):
    """A database outage (503, health's own 503) and an unexpected error (500) match their documented bodies."""

    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(CursorWrapper, "execute", refuse)
        outage = admin_api.get("/api/contacts")
        health = anon.get("/api/health")
    with monkeypatch.context() as patch:
        patch.setattr(ContactSerializer, "to_representation", lambda self, instance: 1 / 0)
        Contact.objects.create(name="张三", account_id=1)
        failure = admin_api.get("/api/contacts")
    assert [outage.status_code, health.status_code, failure.status_code] == [503, 503, 500]
    assert_answer_matches_schema(document, "GET", "/api/contacts", outage)
    assert_answer_matches_schema(document, "GET", "/api/health", health)
    assert_answer_matches_schema(document, "GET", "/api/contacts", failure)


def test_an_unsupported_method_answers_the_documented_405(document, admin_api):
    """405 belongs to no operation; its answer is the MethodNotAllowed response of the components."""
    response = admin_api.delete("/api/contacts")
    assert response.status_code == 405
    schema = document["components"]["responses"]["MethodNotAllowed"]["content"]["application/json"]["schema"]
    assert Draft202012Validator(schema).is_valid(response.json())


def test_swagger_ui_is_served_from_local_files_without_login(anon):
    """/api/docs needs no login and loads Swagger UI from the service's own files, not a CDN, with no inline
    script or style: its own script is /api/docs?script=, which loads the schema."""
    response = anon.get("/api/docs")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sorted(assets) == [
        "/api/docs?script=",
        "/static/contacts/swagger_ui_page.css",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/favicon-32x32.png",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
    ]
    for asset in sorted(assets)[1:]:
        assert finders.find(asset.removeprefix("/static/")), asset
    assert re.findall(r"<script>|<style>", page) == []
    script = anon.get("/api/docs?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert 'url: "/api/schema"' in script.content.decode()


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("get", "/api/docs", {"HTTP_ACCEPT": "application/json"}, 406),
        ("post", "/api/docs", {}, 405),
        ("get", "/api/schema", {"HTTP_ACCEPT": "text/html"}, 406),
        ("post", "/api/schema", {"HTTP_ACCEPT": "application/yaml"}, 405),
    ],
)
def test_errors_of_the_docs_and_schema_are_json_envelopes(method, path, headers, status):
    """Whatever format was negotiated, the docs' and schema's errors are the API's JSON envelope."""
    response = getattr(APIClient(), method)(path, **headers)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == status
    assert response.json()["data"] is None


def test_real_answers_of_the_job_api_match_the_schema(document, seeded, admin_user):
    """Accepted, queued, succeeded, failed-to-cancel, listed and unknown: each answer as documented."""
    client = client_for(admin_user)
    accepted = client.post("/api/contacts/exports", {"reply_status": "未回复", "account_id": 1}, format="json")
    job_id = accepted.json()["data"]["id"]
    queued = client.get(f"/api/contacts/exports/{job_id}")
    export_job_run(export_id=job_id)
    checks = [
        ("POST", "/api/contacts/exports", accepted),
        ("POST", "/api/contacts/exports", client.post("/api/contacts/exports?reply_status=maybe")),
        ("GET", "/api/contacts/exports/{id}", queued),
        ("GET", "/api/contacts/exports/{id}", client.get(f"/api/contacts/exports/{job_id}")),
        ("GET", "/api/contacts/exports/{id}", client.get("/api/contacts/exports/999999")),
        ("DELETE", "/api/contacts/exports/{id}", client.delete(f"/api/contacts/exports/{job_id}")),
        ("GET", "/api/contacts/exports", client.get("/api/contacts/exports", {"page_size": 5})),
    ]
    assert [response.status_code for _, _, response in checks] == [202, 400, 200, 200, 404, 409, 200]
    assert checks[3][2].json()["data"]["status"] == "succeeded"
    for method, path, response in checks:
        assert_answer_matches_schema(document, method, path, response)


def test_a_bulk_create_is_documented_and_answers_as_documented(document, admin_api):
    """The create's JSON body is one contact or a list of 1..1000, and a bulk's 201 and 400 match the schema."""
    operation = document["paths"]["/api/contacts"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    single = {"$ref": "#/components/schemas/ContactRequest"}
    assert body == {"oneOf": [single, {"type": "array", "items": single, "minItems": 1, "maxItems": 1000}]}
    bulk = [{"name": "王五", "account_id": 3}, {"name": "赵六", "account_id": 4}]
    created = admin_api.post("/api/contacts", bulk, format="json")
    refused = admin_api.post("/api/contacts", [{"name": "王五", "account_id": 3}, {"name": ""}, 7], format="json")
    assert (created.status_code, refused.status_code) == (201, 400)
    for response in (created, refused):
        assert_answer_matches_schema(document, "POST", "/api/contacts", response)
