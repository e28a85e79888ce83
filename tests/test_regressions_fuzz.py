"""Regressions for what fuzzing the published schema found, one test each."""

import pytest
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from contacts.models import Contact

pytestmark = pytest.mark.django_db

LARGEST_ACCOUNT_ID = 2_147_483_647


def test_a_write_to_an_unknown_api_path_answers_404_in_the_envelope_not_a_csrf_page(admin_user):
    """PATCH /api/contacts/-326 (no route) met Django's CSRF check first and got its HTML 403 page."""
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(admin_user).access_token}")
    for method in ("post", "patch", "put", "delete"):
        response = getattr(client, method)("/api/contacts/-326", {"notes": "x"}, format="json")
        assert response.status_code == 404, method
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"code": 404, "msg": "接口不存在", "data": None}


def test_a_form_with_too_many_fields_answers_400_in_the_envelope(anon):
    """A form body past DATA_UPLOAD_MAX_NUMBER_FIELDS raised TooManyFieldsSent, which became a 500."""
    body = "&".join(f"field{index}=1" for index in range(1200))
    response = anon.post("/api/auth/token", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.json()["code"] == 400
    assert response.json()["data"] is None


@pytest.mark.parametrize("method", ["post", "patch"])
def test_account_id_past_a_32_bit_integer_is_refused_on_every_database(admin_api, method):
    """SQLite accepted account ids up to 2**63 - 1 that PostgreSQL refuses, so the schema differed by database."""
    contact = Contact.objects.create(name="张三", account_id=1)
    path = "/api/contacts" if method == "post" else f"/api/contacts/{contact.pk}"
    response = getattr(admin_api, method)(path, {"name": "张三", "account_id": LARGEST_ACCOUNT_ID + 1}, format="json")
    assert response.status_code == 400
    assert response.json()["data"] == {"account_id": [f"请确保该值小于或者等于 {LARGEST_ACCOUNT_ID}。"]}
    accepted = getattr(admin_api, method)(path, {"name": "张三", "account_id": LARGEST_ACCOUNT_ID}, format="json")
    assert accepted.status_code in (200, 201)
    assert accepted.json()["data"]["account_id"] == LARGEST_ACCOUNT_ID


@pytest.mark.parametrize(
    "query",
    [
        "account_id=%F0%91%83%B7",  # U+110F7 SORA SOMPENG DIGIT SEVEN, read by int() as 7
        "account_id=%D9%A3",  # ARABIC-INDIC DIGIT THREE
        "start_date=%D9%A2%D9%A0%D9%A2%D9%A4-01-01",  # 2024 in Arabic-Indic digits, read by strptime
        "end_date=2024-1-5",
    ],
)
def test_integer_and_date_parameters_take_ascii_digits_only(api, query):
    """Unicode digits passed as account 7 or year 2024, though the schema promises an integer and YYYY-MM-DD."""
    Contact.objects.create(name="张三", account_id=7)
    Contact.objects.create(name="李四", account_id=3)
    response = api.get(f"/api/contacts?{query}")
    assert response.status_code == 400
    name = query.partition("=")[0]
    assert list(response.json()["data"]) == [name]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "QUERY"])
def test_a_write_to_a_download_link_answers_405_not_a_csrf_page(method):
    """A browser-like client (CSRF checks on) got Django's HTML 'CSRF verification failed' 403 instead of 405."""
    client = Client(enforce_csrf_checks=True)
    response = client.generic(method, "/media/exports/contacts_export_20240101_000000_0123abcd.xlsx?signature=x")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json() == {"code": 405, "msg": "下载链接只支持 GET", "data": None}
