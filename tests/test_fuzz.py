"""Schemathesis fuzzes every operation of the published schema: through WSGI, and over HTTP against gunicorn.

Checked: no 5xx, every status, content type, header and body as the schema documents them (so every
/api/ answer is in the envelope), and schema-breaking queries refused. Not checked: that every
schema-valid request is accepted (a start date after the end date is a 400 no schema can express),
and that every schema-breaking body is refused (DRF's serializers coerce as designed: a JSON number
into a text field, "7" into an integer, an empty form value into "absent").
"""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.db import close_old_connections
from factories import PASSWORD
from hypothesis import HealthCheck, given, settings
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance
from served import PASSWORD as SERVED_PASSWORD
from served import login, manage, prepare_database, served, service_env, suite_database

from boss_dp.wsgi import application

# Bounded for CI; raise it for a deeper run by hand: FUZZ_MAX_EXAMPLES=1000 pytest tests/test_fuzz.py
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "60"))
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
# The CLI run's checks: the same two exclusions as the WSGI run.
CLI_CONFIG = """
[checks]
positive_data_acceptance.enabled = false

[[operations]]
include-method-regex = "^(POST|PATCH)$"
checks.negative_data_rejection.enabled = false
"""

OPERATIONS = [
    ("POST", "/api/auth/token"),
    ("POST", "/api/auth/token/refresh"),
    ("POST", "/api/auth/logout"),
    ("GET", "/api/contacts"),
    ("POST", "/api/contacts"),
    ("GET", "/api/contacts/{id}"),
    ("PATCH", "/api/contacts/{id}"),
    ("GET", "/api/contacts/export"),
    ("GET", "/api/contacts/stats"),
    ("POST", "/api/contacts/exports"),
    ("GET", "/api/contacts/exports"),
    ("GET", "/api/contacts/exports/{id}"),
    ("DELETE", "/api/contacts/exports/{id}"),
    ("POST", "/api/contacts/import"),
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
    excluded = [positive_data_acceptance]
    if method in ("POST", "PATCH"):
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


@pytest.mark.slow
def test_the_served_api_passes_every_schemathesis_phase(tmp_path):
    """Over HTTP against gunicorn: the examples, coverage (boundaries, undeclared methods, missing auth),
    fuzzing and stateful phases of the schemathesis CLI all pass, logged in as a superuser."""
    with suite_database(tmp_path, "fuzz") as url:
        env = service_env(url, tmp_path, WEB_CONCURRENCY="2", DJANGO_SUPERUSER_PASSWORD=SERVED_PASSWORD)
        prepare_database(env, contacts=30)
        manage(env, "ensure_admin")
        with served(env, tmp_path / "logs") as gunicorn:
            token = login(gunicorn.port, "admin")
            config = tmp_path / "schemathesis.toml"
            config.write_text(CLI_CONFIG)
            result = subprocess.run(
                [
                    SCHEMATHESIS,
                    "--config-file",
                    str(config),
                    "run",
                    f"http://127.0.0.1:{gunicorn.port}/api/schema",
                    "--header",
                    f"Authorization: Bearer {token}",
                    "--phases",
                    "examples,coverage,fuzzing,stateful",
                    "--max-examples",
                    str(MAX_EXAMPLES // 2),
                    "--no-color",
                ],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=900,
            )
    assert result.returncode == 0, result.stdout[-10000:] + result.stderr[-2000:]
