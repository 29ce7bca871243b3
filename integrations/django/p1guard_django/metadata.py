"""Serve RFC 9728 Protected Resource Metadata from a Django project.

>>> from p1guard import ResourceMetadata
>>> md = ResourceMetadata("https://api.example.com", "https://auth.pingone.eu/env/as")
>>> urlpatterns = [metadata_path(md)]                            # in urls.py
>>> urlpatterns[0].pattern.describe()
"'.well-known/oauth-protected-resource' [name='p1guard-resource-metadata']"

The document is public: keep its path out of ``P1GUARD["PROTECTED_PATHS"]``. To put
``resource_metadata="…"`` in 401 challenges too, set
``P1GUARD["GUARD_OPTIONS"] = {"resource_metadata_url": md.metadata_url}``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.views.decorators.http import require_safe

from p1guard import ResourceMetadata

__all__ = ["metadata_path", "metadata_view"]


def metadata_view(metadata: ResourceMetadata) -> Callable[[HttpRequest], HttpResponse]:
    """A view answering ``GET``/``HEAD`` with the JSON document (cacheable for an hour);
    other methods get 405.

    >>> view = metadata_view(md)                                   # doctest: +SKIP
    """
    body = metadata.json_bytes()
    headers = dict(metadata.response_headers(body))

    @require_safe
    def protected_resource_metadata(request: HttpRequest) -> HttpResponse:
        return HttpResponse(body, headers=headers)

    return protected_resource_metadata


def metadata_path(
    metadata: ResourceMetadata, *, name: str = "p1guard-resource-metadata"
) -> URLPattern:
    """``path(<the well-known path>, metadata_view(metadata), name=name)`` for ``urlpatterns``
    (the project's root URLconf: the path is absolute)."""
    return path(metadata.well_known_path.lstrip("/"), metadata_view(metadata), name=name)
