"""Export jobs in-process: the job API, and the worker's side run by calling its service as the task does.

Jobs are sent to kombu's in-memory broker here (pytest.ini); tests/test_export_workers.py runs real
Celery workers on Redis.
"""

import datetime as dt

import pytest
from celery import current_app
from django.utils import timezone
from export_support import data_rows, folder_names, workbook
from factories import client_for, make_contact, make_user
from kombu.exceptions import OperationalError

from contacts.exports import services
from contacts.exports.errors import ExportJobBusy
from contacts.exports.workbook import FIELDS
from contacts.models import ContactExport

pytestmark = pytest.mark.django_db

JOBS = "/api/contacts/exports"
EXPORT_PERMS = ("contacts.view_contact", "contacts.export_contact", "contacts.view_all_contacts")


@pytest.fixture
def contacts():
    return [make_contact(name=f"联系人{n}", worker_id=f"worker-00{n % 3}") for n in range(9)]


@pytest.fixture
def exporter(db):
    return make_user("exporter", *EXPORT_PERMS)


@pytest.fixture
def jobs_api(exporter):
    return client_for(exporter)


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, list]]:
    """The tasks sent to the workers' queue, instead of a broker."""
    messages: list[tuple[str, list]] = []
    monkeypatch.setattr(current_app, "send_task", lambda name, args: messages.append((name, args)))
    return messages


def accept(client, **filters) -> dict:
    response = client.post(JOBS, filters, format="json")
    assert response.status_code == 202, response.content
    return response.json()["data"]


def job(client, job_id: int) -> dict:
    response = client.get(f"{JOBS}/{job_id}")
    assert response.status_code == 200, response.content
    return response.json()["data"]


def test_a_job_is_accepted_at_once_with_202_and_queued_for_the_workers(jobs_api, contacts, sent):
    """POST answers 202 {id, status: queued, status_url} and sends the job's id to the workers."""
    response = jobs_api.post(JOBS, {"worker_id": "worker-001"}, format="json")
    assert response.status_code == 202
    data = response.json()["data"]
    assert response.json() == {
        "code": 202,
        "msg": "success",
        "data": {"id": data["id"], "status": "queued", "status_url": f"http://testserver{JOBS}/{data['id']}"},
    }
    assert sent == [("contacts.exports.tasks.export_job_run", [data["id"]])]
    record = ContactExport.objects.get(pk=data["id"])
    assert (record.source, record.status, record.filename, record.total_records) == ("job", "queued", None, 3)
    assert record.filters == {"worker_id": "worker-001", "ordering": "-created_at"}


def test_the_job_api_answers_with_or_without_the_trailing_slash(jobs_api, contacts, sent):
    """POST /exports/ is a 202 like POST /exports; GET and DELETE of /exports/{id}/ answer like without it."""
    accepted = jobs_api.post(f"{JOBS}/", {"worker_id": "worker-001"}, format="json")
    assert accepted.status_code == 202
    job_id = accepted.json()["data"]["id"]
    assert jobs_api.get(f"{JOBS}/").json()["data"]["total"] == 1
    assert jobs_api.get(f"{JOBS}/{job_id}/").json()["data"]["status"] == "queued"
    assert jobs_api.delete(f"{JOBS}/{job_id}/").json()["data"]["status"] == "cancelled"


def test_filters_come_from_the_query_string_or_a_json_body_alike(jobs_api, contacts, sent):
    """The list's parameters, in the query string or as JSON (numbers and booleans as the list writes them)."""
    by_query = accept_query = jobs_api.post(f"{JOBS}?wechat_exchanged=true&account_id=1&ordering=id")
    assert accept_query.status_code == 202
    by_body = accept(jobs_api, wechat_exchanged=True, account_id=1, ordering="id")
    filters = [ContactExport.objects.get(pk=pk).filters for pk in (by_query.json()["data"]["id"], by_body["id"])]
    assert filters == [{"wechat_exchanged": "true", "account_id": "1", "ordering": "id"}] * 2


@pytest.mark.parametrize(
    ("filters", "problem"),
    [
        ({"reply_status": "maybe"}, "reply_status: 只能是 未回复 或 已回复"),
        ({"start_date": "2024-13-01"}, "start_date: 日期格式应为 YYYY-MM-DD"),
        ({"ordering": "name"}, "ordering: 只能是 created_at, -created_at, contacted_at, -contacted_at, id, -id"),
        ({"search": ["a", "b"]}, "search: 应为字符串、数字或布尔值"),
        ([None, None], "请求体应为 JSON 对象,键为筛选参数"),
        ("worker-001", "请求体应为 JSON 对象,键为筛选参数"),
    ],
)
def test_filters_that_fail_validation_are_the_lists_400(jobs_api, contacts, sent, filters, problem):
    """Same validation and same 400 as the list; nothing is recorded or sent."""
    response = jobs_api.post(JOBS, filters, format="json")
    assert (response.status_code, response.json()["msg"]) == (400, problem)
    assert not ContactExport.objects.exists()
    assert sent == []


def test_past_the_row_limit_a_job_is_refused_like_the_export(jobs_api, contacts, sent, settings):
    """More matching rows than EXPORT_MAX_ROWS: the synchronous export's 400, and no job."""
    settings.EXPORT_MAX_ROWS = 5
    response = jobs_api.post(JOBS)
    assert response.json() == {
        "code": 400,
        "msg": "符合条件的记录有 9 条,超过单次导出上限 5 条,请缩小日期范围后重试",
        "data": None,
    }
    assert not ContactExport.objects.exists()


def test_a_worker_runs_the_job_and_it_answers_like_the_synchronous_export(jobs_api, contacts, sent):
    """Once run: succeeded, every row written, 100%, and the export's download_url, filename, generated_at."""
    accepted = accept(jobs_api, search="联系人")
    queued = job(jobs_api, accepted["id"])
    assert {key: queued[key] for key in ("status", "total_records", "rows_written", "progress", "download_url")} == {
        "status": "queued",
        "total_records": 9,
        "rows_written": 0,
        "progress": 0,
        "download_url": None,
    }
    services.export_job_run(export_id=accepted["id"])
    done = job(jobs_api, accepted["id"])
    record = ContactExport.objects.get(pk=accepted["id"])
    assert done == {
        "id": accepted["id"],
        "status": "succeeded",
        "total_records": 9,
        "rows_written": 9,
        "progress": 100,
        "filters": {"search": "联系人", "ordering": "-created_at"},
        "format": "xlsx",
        "columns": list(FIELDS),
        "created_at": timezone.localtime(record.created_at).strftime("%Y-%m-%dT%H:%M:%S"),
        "started_at": timezone.localtime(record.started_at).strftime("%Y-%m-%dT%H:%M:%S"),
        "finished_at": timezone.localtime(record.finished_at).strftime("%Y-%m-%dT%H:%M:%S"),
        "download_url": done["download_url"],
        "filename": record.filename,
        "generated_at": timezone.localtime(record.started_at).strftime("%Y-%m-%d %H:%M:%S"),
        "error": None,
    }
    download = jobs_api.get(done["download_url"])
    assert download.status_code == 200
    book = workbook(b"".join(download.streaming_content))
    assert len(data_rows(book["联系记录"])) == 9
    assert dict(book["导出信息"].iter_rows(values_only=True))["来源"] == "导出任务"


def test_progress_is_recorded_while_rows_stream(jobs_api, contacts, sent, monkeypatch):
    """rows_written advances as the worker writes (here every 2 rows), and so does the heartbeat."""
    monkeypatch.setattr(services, "PROGRESS_ROWS", 2)
    monkeypatch.setattr(services, "PROGRESS_CHECK_ROWS", 1)
    seen = []
    real_report = services._Progress.report

    def watched(self, count):
        real_report(self, count)
        seen.append(ContactExport.objects.values_list("row_count", flat=True).get(pk=accepted["id"]))

    monkeypatch.setattr(services._Progress, "report", watched)
    accepted = accept(jobs_api)
    services.export_job_run(export_id=accepted["id"])
    assert seen == [2, 4, 6, 8, 9]


def test_a_queued_job_is_cancelled_at_once(jobs_api, contacts, sent):
    """DELETE of a queued job: 200 with it, cancelled; the worker then finds nothing to run."""
    accepted = accept(jobs_api)
    response = jobs_api.delete(f"{JOBS}/{accepted['id']}")
    assert (response.status_code, response.json()["data"]["status"]) == (200, "cancelled")
    assert services.export_job_run(export_id=accepted["id"]) is None
    assert ContactExport.objects.get(pk=accepted["id"]).status == "cancelled"
    assert folder_names() == []


def test_a_running_job_stops_at_its_next_check_and_leaves_no_file(jobs_api, contacts, sent, monkeypatch):
    """DELETE while it runs: 200 with it still running; the writer stops at its next check: cancelled, no file."""
    monkeypatch.setattr(services, "PROGRESS_ROWS", 3)
    monkeypatch.setattr(services, "PROGRESS_CHECK_ROWS", 1)
    accepted = accept(jobs_api)
    answers = []
    real_rows = services.contact_rows

    def rows_then_cancel(queryset, **options):
        for number, row in enumerate(real_rows(queryset, **options), 1):
            if number == 4:
                answers.append(jobs_api.delete(f"{JOBS}/{accepted['id']}"))
            yield row

    monkeypatch.setattr(services, "contact_rows", rows_then_cancel)
    services.export_job_run(export_id=accepted["id"])
    assert [(answer.status_code, answer.json()["data"]["status"]) for answer in answers] == [(200, "running")]
    record = ContactExport.objects.get(pk=accepted["id"])
    assert (record.status, record.row_count) == ("cancelled", 6)
    assert folder_names() == []


@pytest.mark.parametrize("end", ["succeeded", "cancelled"])
def test_cancelling_a_finished_job_is_a_409(jobs_api, contacts, sent, end):
    """A finished job (here succeeded, or already cancelled: cancel twice) cannot be cancelled."""
    accepted = accept(jobs_api)
    if end == "succeeded":
        services.export_job_run(export_id=accepted["id"])
    else:
        jobs_api.delete(f"{JOBS}/{accepted['id']}")
    response = jobs_api.delete(f"{JOBS}/{accepted['id']}")
    label = {"succeeded": "成功", "cancelled": "已取消"}[end]
    assert response.json() == {"code": 409, "msg": f"导出任务已{label},不能取消", "data": None}


def test_the_list_is_the_callers_own_exports_newest_first_and_paged(jobs_api, exporter, contacts, sent, settings):
    """Paged like the contact list; another user's jobs are not in it."""
    settings.EXPORT_CONCURRENT_PER_USER = 3
    mine = [accept(jobs_api)["id"] for _ in range(3)]
    accept(client_for(make_user("colleague", *EXPORT_PERMS)))
    page = jobs_api.get(JOBS, {"page_size": 2}).json()["data"]
    assert (page["total"], page["page"], page["page_size"]) == (3, 1, 2)
    assert [item["id"] for item in page["results"]] == mine[::-1][:2]
    assert [item["id"] for item in jobs_api.get(JOBS, {"page": 2, "page_size": 2}).json()["data"]["results"]] == mine[
        :1
    ]


@pytest.mark.parametrize("method", ["get", "delete"])
def test_another_users_job_is_a_404_but_to_superusers(jobs_api, contacts, sent, method, admin_api):
    """Foreign, unknown and non-numeric ids are all 404 envelopes; a superuser sees any job."""
    foreign = accept(client_for(make_user("colleague", *EXPORT_PERMS)))["id"]
    for path in (f"{JOBS}/{foreign}", f"{JOBS}/999999", f"{JOBS}/abc"):
        response = getattr(jobs_api, method)(path)
        assert (response.status_code, response.json()["code"]) == (404, 404), path
    assert admin_api.get(f"{JOBS}/{foreign}").status_code == 200


def test_the_job_api_needs_the_export_permissions(contacts, sent, anon):
    """view_contact alone is a 403; no login is a 401."""
    reader = client_for(make_user("reader2", "contacts.view_contact", "contacts.view_all_contacts"))
    assert reader.post(JOBS).status_code == 403
    assert reader.get(JOBS).status_code == 403
    assert anon.post(JOBS).status_code == 401


def test_a_queue_that_cannot_be_reached_is_a_503_and_the_job_is_recorded_failed(jobs_api, contacts, monkeypatch):
    """The broker down: a 503 envelope; the job is not left queued for ever."""

    def refuse(name, args):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(current_app, "send_task", refuse)
    response = jobs_api.post(JOBS)
    assert response.json() == {"code": 503, "msg": "导出任务队列暂时不可用,请稍后重试", "data": None}
    record = ContactExport.objects.get()
    assert (record.status, record.error) == ("failed", "导出任务队列暂时不可用,请稍后重试")
    assert job(jobs_api, record.pk)["error"] == "导出任务队列暂时不可用,请稍后重试"


# --- the worker's side -----------------------------------------------------------------------------


def test_running_a_job_twice_runs_it_once(jobs_api, contacts, sent):
    """A task delivered twice finds the job finished the second time."""
    accepted = accept(jobs_api)
    assert services.export_job_run(export_id=accepted["id"]).status == "succeeded"
    assert services.export_job_run(export_id=accepted["id"]) is None
    assert len(folder_names()) == 1


def test_a_job_another_worker_runs_is_busy_until_its_heartbeat_goes_stale(jobs_api, contacts, sent, settings):
    """Fresh heartbeat: ExportJobBusy (the task retries later); stale: run again from the start."""
    accepted = accept(jobs_api)
    now = timezone.now()
    ContactExport.objects.filter(pk=accepted["id"]).update(status="running", heartbeat_at=now, attempts=1)
    with pytest.raises(ExportJobBusy):
        services.export_job_run(export_id=accepted["id"])
    ContactExport.objects.filter(pk=accepted["id"]).update(heartbeat_at=now - dt.timedelta(seconds=301))
    record = services.export_job_run(export_id=accepted["id"])
    assert (record.status, record.attempts, record.row_count) == ("succeeded", 2, 9)


def test_dead_jobs_are_queued_again_until_their_attempts_run_out(jobs_api, contacts, sent, settings):
    """The reaper: a silent running job is sent again while it has attempts, then recorded as failed."""
    accepted = accept(jobs_api)
    silent = timezone.now() - dt.timedelta(seconds=settings.EXPORT_JOB_STALE_SECONDS + 1)
    ContactExport.objects.filter(pk=accepted["id"]).update(status="running", heartbeat_at=silent, attempts=1)
    sent.clear()
    assert services.export_jobs_reap() == [accepted["id"]]
    assert sent == [("contacts.exports.tasks.export_job_run", [accepted["id"]])]
    ContactExport.objects.filter(pk=accepted["id"]).update(attempts=settings.EXPORT_JOB_MAX_ATTEMPTS)
    assert services.export_jobs_reap() == [accepted["id"]]
    failed = job(jobs_api, accepted["id"])
    assert (failed["status"], failed["error"]) == ("failed", "导出中断:执行它的进程已停止,请重新导出")
    assert services.export_jobs_reap() == []


def test_a_job_queued_too_long_is_sent_again_as_its_message_may_be_lost(jobs_api, contacts, sent, settings):
    """Queued for EXPORT_JOB_STALE_SECONDS (a Redis restarted without its data loses the message): the
    reaper sends it again, once a period; the run it gets is the job's one run."""
    accepted = accept(jobs_api)
    sent.clear()
    assert services.export_jobs_reap() == []
    waited = timezone.now() - dt.timedelta(seconds=settings.EXPORT_JOB_STALE_SECONDS + 1)
    ContactExport.objects.filter(pk=accepted["id"]).update(heartbeat_at=waited)
    assert services.export_jobs_reap() == [accepted["id"]]
    assert services.export_jobs_reap() == []
    assert sent == [("contacts.exports.tasks.export_job_run", [accepted["id"]])]
    services.export_job_run(export_id=accepted["id"])
    assert services.export_job_run(export_id=accepted["id"]) is None
    record = ContactExport.objects.get(pk=accepted["id"])
    assert (record.status, record.attempts, record.row_count) == ("succeeded", 1, 9)


def test_a_job_whose_user_lost_the_right_to_export_fails(jobs_api, exporter, contacts, sent):
    """What the caller may export is decided when the job runs."""
    accepted = accept(jobs_api)
    exporter.is_active = False
    exporter.save()
    record = services.export_job_run(export_id=accepted["id"])
    assert (record.status, record.error) == ("failed", "导出人已停用或已无导出权限")
    assert folder_names() == []


def test_a_failure_tells_the_user_no_row_value(jobs_api, contacts, sent, monkeypatch):
    """A database error mid-way: failed, and `error` is the envelope's words, not the exception's."""
    real_rows = services.contact_rows

    def failing(queryset, **options):
        rows = real_rows(queryset, **options)
        yield next(rows)
        raise RuntimeError("张三 13800138000")

    monkeypatch.setattr(services, "contact_rows", failing)
    accepted = accept(jobs_api)
    services.export_job_run(export_id=accepted["id"])
    answer = job(jobs_api, accepted["id"])
    assert (answer["status"], answer["error"]) == ("failed", "导出失败,请稍后重试")
    assert ContactExport.objects.get(pk=accepted["id"]).error.startswith("RuntimeError at ")


def test_queued_jobs_count_against_the_users_concurrent_exports(jobs_api, contacts, sent):
    """EXPORT_CONCURRENT_PER_USER bounds the jobs queued or running, like the exports running."""
    for _ in range(2):
        accept(jobs_api)
    response = jobs_api.post(JOBS)
    assert response.json() == {"code": 429, "msg": "已有 2 个导出正在进行,每人最多同时 2 个,请稍后重试", "data": None}
    assert response["Retry-After"] == "30"


def test_a_cancelled_job_whose_worker_died_ends_cancelled_not_run_again(jobs_api, contacts, sent, settings):
    """Cancel asked of a running job whose worker then died: the reaper records it cancelled and sends nothing."""
    accepted = accept(jobs_api)
    silent = timezone.now() - dt.timedelta(seconds=settings.EXPORT_JOB_STALE_SECONDS + 1)
    ContactExport.objects.filter(pk=accepted["id"]).update(status="running", heartbeat_at=silent, attempts=1)
    assert jobs_api.delete(f"{JOBS}/{accepted['id']}").json()["data"]["status"] == "running"
    sent.clear()
    assert services.export_jobs_reap() == [accepted["id"]]
    assert sent == []
    assert job(jobs_api, accepted["id"])["status"] == "cancelled"
