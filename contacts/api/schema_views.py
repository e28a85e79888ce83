"""The OpenAPI document at /api/schema and Swagger UI at /api/docs, both public.

Kept apart from schema.py: drf-spectacular's views import the default schema class at import time.
"""

from typing import Any

from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response

from .envelope import EnvelopeJSONRenderer


class JsonErrorsMixin:
    """Errors of the schema and docs views in the envelope as JSON, whatever format was negotiated."""

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        if getattr(response, "exception", False):
            request.accepted_renderer = EnvelopeJSONRenderer()
            request.accepted_media_type = EnvelopeJSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class SchemaView(JsonErrorsMixin, SpectacularAPIView):
    """The OpenAPI document: JSON by default, YAML when asked for (`Accept: application/yaml`)."""

    serves_openapi_document = True
    renderer_classes = [OpenApiJsonRenderer2, OpenApiJsonRenderer, OpenApiYamlRenderer2, OpenApiYamlRenderer]

    @extend_schema(
        tags=["schema"],
        responses={
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="OpenAPI 3.1 文档"),
            (200, "application/yaml"): OpenApiResponse(OpenApiTypes.OBJECT, description="OpenAPI 3.1 文档"),
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self._get_schema_response(request)


class DocsView(JsonErrorsMixin, SpectacularSwaggerSplitView):
    """Swagger UI, its scripts and styles served by the service itself (drf-spectacular-sidecar).

    The split view serves the page's own script as a file (`/api/docs?script=`), not inline: the
    Content-Security-Policy allows no inline script.
    """

    template_name = "contacts/swagger_ui.html"
