"""The health endpoint: no login, and a 503 in the envelope when the database is unreachable."""

from django.db import OperationalError
from django.db.backends.utils import CursorWrapper


def test_health_answers_ok_without_login(anon, db):
    """A load balancer probes health without credentials."""
    response = anon.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"code": 200, "msg": "success", "data": {"database": "ok"}}


def test_health_answers_503_when_the_database_is_unreachable(anon, db, monkeypatch):
    """A failing database query turns into 503 in the envelope, not a traceback."""

    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(CursorWrapper, "execute", refuse)
        response = anon.get("/api/health/")
    assert response.status_code == 503
    assert response.json() == {"code": 503, "msg": "数据库暂时不可用,请稍后重试", "data": {"database": "unavailable"}}
