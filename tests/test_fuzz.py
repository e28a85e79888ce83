"""Schemathesis fuzzes every operation of the published schema through the WSGI application."""

import io
import os

import pytest
import schemathesis
from conftest import PASSWORD
from django.core import signals
from django.core.management import call_command
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from boss_dp.wsgi import application

# Bounded for CI; raise it for a deeper run by hand: FUZZ_MAX_EXAMPLES=1000 pytest tests/test_fuzz.py
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "60"))

OPERATIONS = [
    ("POST", "/api/auth/token"),
    ("POST", "/api/auth/token/refresh"),
    ("GET", "/api/contacts"),
    ("POST", "/api/contacts"),
    ("GET", "/api/contacts/{id}"),
    ("PATCH", "/api/contacts/{id}"),
    ("GET", "/api/contacts/export"),
    ("GET", "/api/health"),
    ("GET", "/api/schema"),
    ("GET", "/media/exports/{filename}"),
]


@pytest.fixture
def keep_test_connection():
    """Serve requests as Django's test client does: a request's end must not close the test's connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(django_user_model, keep_test_connection):
    """The live schema over a few contacts, with a superuser's token so that every operation is reachable."""
    call_command("seed_contacts", "--count", "30", "--seed", "5", stdout=io.StringIO())
    user = django_user_model.objects.create_superuser(username="fuzzer", password=PASSWORD)
    token = str(RefreshToken.for_user(user).access_token)
    config = SchemathesisConfig.from_dict({"auth": {"openapi": {"jwtAuth": {"bearer": token}}}})
    return schemathesis.openapi.from_wsgi("/api/schema", application, config=config)


CASES = [(method, path, GenerationMode.POSITIVE) for method, path in OPERATIONS] + [
    (method, path, GenerationMode.NEGATIVE) for method, path in OPERATIONS if path not in ("/api/health", "/api/schema")
]


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_every_operation_answers_in_the_envelope_and_the_schema(api_schema, method, path, mode):
    """No input makes the API fail, answer outside the envelope or stray from its own schema."""
    operation = api_schema[path][method]
    strategy = operation.as_strategy(generation_mode=mode)
    # A request the schema allows may still be refused: a start date after the end date is a 400.
    excluded = [positive_data_acceptance]
    if method in ("POST", "PATCH"):
        # DRF's serializers coerce as designed (a JSON number into a text field, "7" into an integer,
        # an empty form value into "absent"), so a body that breaks the schema is not always refused.
        excluded.append(negative_data_rejection)

    @given(case=strategy)
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def fuzz(case):
        case.call_and_validate(excluded_checks=excluded)

    fuzz()


def test_the_fuzzed_operations_are_every_operation_of_the_schema(api_schema):
    """A new endpoint must join the fuzzing: the list above is the schema's own list of operations."""
    paths = api_schema.raw_schema["paths"]
    documented = {(method.upper(), path) for path, item in paths.items() for method in item}
    assert documented == set(OPERATIONS)
