"""POST /api/contacts/import: a spreadsheet of contacts in, the import's report out (contacts/imports)."""

from rest_framework import exceptions
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.imports.errors import ImportFileRefused
from contacts.imports.services import contacts_import

from .envelope import envelope
from .permissions import CanImportContacts

NO_FILE_MSG = "请用 multipart/form-data 的 file 字段上传 xlsx 或 csv 文件"
DRY_RUN_MSG = "应为 true 或 false"
FLAGS = {"true": True, "1": True, "false": False, "0": False, "": False}


def import_failed_msg(error_count: int) -> str:
    return f"导入未执行:{error_count} 处错误,没有写入任何记录"


class ContactImportView(APIView):
    """Every row or none: 200 with the report, or 400 with the same report and nothing written."""

    parser_classes = [MultiPartParser]
    permission_classes = [CanImportContacts]
    http_method_names = ["post", "options"]

    def post(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            raise exceptions.ValidationError({"file": [NO_FILE_MSG]})
        asked = request.data.get("dry_run", request.query_params.get("dry_run", ""))
        dry_run = FLAGS.get(str(asked).strip().lower())
        if dry_run is None:
            raise exceptions.ValidationError({"dry_run": [DRY_RUN_MSG]})
        try:
            report = contacts_import(file=upload, user=request.user, dry_run=dry_run)
        except ImportFileRefused as refused:
            raise exceptions.ValidationError({"file": [refused.message]}) from None
        if report.error_count:
            return Response(envelope(report.as_dict(), code=400, msg=import_failed_msg(report.error_count)), status=400)
        return Response(report.as_dict())
