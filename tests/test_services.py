"""Tests that need a server or program the machine lacks: they skip saying why, or fail under REQUIRE_SERVICES=1."""

from pathlib import Path

import pytest
from served import free_port
from services import executable_problem, postgres_problem, redis_problem, require_service


def test_a_present_service_lets_the_test_run(monkeypatch):
    """A probe that finds the service answers None, and the test goes on, whatever REQUIRE_SERVICES says."""
    for required in ("", "1"):
        monkeypatch.setenv("REQUIRE_SERVICES", required)
        try:
            require_service("Redis", lambda: None)
        except (pytest.skip.Exception, pytest.fail.Exception) as outcome:
            pytest.fail(f"a present service stopped the test (REQUIRE_SERVICES={required!r}): {outcome}")


@pytest.mark.parametrize("required", [None, "", "0", "yes"])
def test_a_missing_service_skips_the_test_with_its_reason(monkeypatch, required):
    """Unless REQUIRE_SERVICES is exactly 1, a missing service skips the test, naming it and the probe's reason."""
    if required is None:
        monkeypatch.delenv("REQUIRE_SERVICES", raising=False)
    else:
        monkeypatch.setenv("REQUIRE_SERVICES", required)
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_service("Redis", lambda: "no Redis answers at redis://127.0.0.1:1/7")
    assert str(skipped.value).startswith("Redis is not available: no Redis answers at redis://127.0.0.1:1/7; ")
    assert "What the full suite needs" in str(skipped.value)


def test_a_missing_service_fails_the_test_when_services_are_required(monkeypatch):
    """Under REQUIRE_SERVICES=1 (CI) a missing service is a failure that says so, never a skip."""
    monkeypatch.setenv("REQUIRE_SERVICES", "1")
    with pytest.raises((pytest.fail.Exception, pytest.skip.Exception)) as failed:
        require_service("Chromium", lambda: "no executable at chromium-nowhere")
    assert failed.type is pytest.fail.Exception, f"skipped instead: {failed.value}"
    assert str(failed.value).startswith("Chromium is not available: no executable at chromium-nowhere; ")
    assert str(failed.value).endswith("(REQUIRE_SERVICES=1: a missing service is a failure)")


def test_the_probes_report_a_closed_port_and_a_missing_program(tmp_path):
    """Redis and PostgreSQL on a port nobody listens on, and a file that is not executable, are missing."""
    port = free_port()
    assert redis_problem(f"redis://127.0.0.1:{port}/7").startswith(f"no Redis answers at redis://127.0.0.1:{port}/7 (")
    problem = postgres_problem(f"postgres://postgres@127.0.0.1:{port}/postgres")
    assert problem.startswith(f"no PostgreSQL server lets us in at postgres://postgres@127.0.0.1:{port}/postgres (")
    not_executable = tmp_path / "chromium"
    not_executable.write_text("")
    assert executable_problem(str(not_executable)) == f"no executable at {not_executable}"
    assert executable_problem(str(tmp_path / "absent")) == f"no executable at {tmp_path / 'absent'}"
    assert executable_problem(str(Path(__file__).parent.parent / "manage.py")) is None
