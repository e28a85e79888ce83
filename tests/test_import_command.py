"""manage.py import_contacts FILE [--dry-run]: the import from a terminal, with a progress bar."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from import_support import PNG, csv_bytes, xlsx

from contacts.imports import services, writing
from contacts.models import Contact

pytestmark = pytest.mark.django_db


def run(path, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_contacts", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_imports_a_workbook_and_says_what_it_did(tmp_path):
    """Creates and updates as the API does, for every account, and prints the counts."""
    existing = Contact.objects.create(name="张三", account_id=9)
    path = tmp_path / "contacts.xlsx"
    path.write_bytes(xlsx([["ID", "姓名", "账号 ID"], [existing.pk, "改名", 9], [None, "李四", 12]]))
    out, _ = run(path)
    assert out == "已导入:新建 1,更新 1,未变 0,错误 0\n"
    assert sorted(Contact.objects.values_list("name", "account_id")) == [("改名", 9), ("李四", 12)]


def test_the_progress_bar_goes_to_standard_error_up_to_the_whole(tmp_path, monkeypatch):
    """The bar reads, checks and writes every row, ending at 100%; --no-progress leaves it out."""
    monkeypatch.setattr(services, "BATCH_SIZE", 10)
    path = tmp_path / "contacts.csv"
    path.write_bytes(csv_bytes([["姓名", "账号 ID"], *[[f"人{n}", "1"] for n in range(25)]]))
    _, err = run(path)
    assert err.startswith("\r读取 10 行\r读取 20 行\r读取 [")
    assert "\r校验 [############..................]  40% 10/25" in err
    assert err.endswith("\r写入 [##############################] 100% 25/25\n")
    _, err = run(path, "--no-progress")
    assert err == ""


def test_the_progress_bar_of_a_failing_import_never_shows_writing(tmp_path, monkeypatch):
    """New contacts sent in batches (here of 2) before a later row fails are rolled back: no 写入 stage."""
    monkeypatch.setattr(writing, "BATCH_SIZE", 2)
    path = tmp_path / "contacts.csv"
    path.write_bytes(csv_bytes([["姓名", "账号 ID"], *[[f"人{n}", "1"] for n in range(5)], ["王五", "x"]]))
    err = StringIO()
    with pytest.raises(CommandError, match=r"^导入未执行:1 处错误,没有写入任何记录$"):
        call_command("import_contacts", str(path), stdout=StringIO(), stderr=err)
    assert err.getvalue().endswith("\r校验 [##############################] 100% 6/6\n")
    assert "写入" not in err.getvalue()
    assert not Contact.objects.exists()


def test_a_dry_run_writes_nothing(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_bytes(csv_bytes([["姓名", "账号 ID"], ["张三", "1"]]))
    out, _ = run(path, "--dry-run", "--no-progress")
    assert out == "试运行(没有写入):新建 1,更新 0,未变 0,错误 0\n"
    assert not Contact.objects.exists()


def test_errors_are_listed_and_the_command_fails_writing_nothing(tmp_path):
    """Each error on its row; the exit is a failure naming the count."""
    path = tmp_path / "contacts.csv"
    path.write_bytes(csv_bytes([["姓名", "账号 ID"], ["张三", "1"], ["", "x"], ["李四", "0"]]))
    out = StringIO()
    with pytest.raises(CommandError, match=r"^导入未执行:2 处错误,没有写入任何记录$"):
        call_command("import_contacts", str(path), "--no-progress", stdout=out)
    assert out.getvalue() == (
        "新建 1,更新 0,未变 0,错误 2\n第 3 行 账号 ID:应为正整数\n第 4 行 账号 ID:请确保该值大于或者等于 1。\n"
    )
    assert not Contact.objects.exists()


def test_a_refused_file_or_a_missing_one_fails_with_the_reason(tmp_path):
    path = tmp_path / "picture.xlsx"
    path.write_bytes(PNG)
    with pytest.raises(CommandError, match=r"^不是 xlsx 或 csv 文件$"):
        run(path, "--no-progress")
    with pytest.raises(CommandError, match=r"^无法读取 .*nothing.csv:No such file or directory$"):
        run(tmp_path / "nothing.csv", "--no-progress")


@pytest.mark.django_db(transaction=True)
def test_a_large_import_refreshes_the_statistics_and_says_so(tmp_path, monkeypatch):
    """Past STATISTICS_REFRESH_ROWS written rows the planner's statistics are refreshed outside the transaction."""
    monkeypatch.setattr(services, "STATISTICS_REFRESH_ROWS", 3)
    path = tmp_path / "contacts.csv"
    path.write_bytes(csv_bytes([["姓名", "账号 ID"], *[[f"人{n}", "1"] for n in range(3)]]))
    out, _ = run(path, "--no-progress")
    refresh = "VACUUM (ANALYZE)" if connection.vendor == "postgresql" else "ANALYZE"
    statement = f'{refresh} "contacts_contact"; {refresh} "contacts_contactdaytally"'
    assert out == f"已导入:新建 3,更新 0,未变 0,错误 0;随后执行了 {statement}\n"
