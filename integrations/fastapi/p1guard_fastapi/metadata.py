"""Serve RFC 9728 Protected Resource Metadata from a FastAPI app.

>>> from p1guard import ResourceMetadata
>>> md = ResourceMetadata("https://api.example.com", "https://auth.pingone.eu/env/as")
>>> [route.path for route in metadata_router(md).routes]
['/.well-known/oauth-protected-resource']

Include it with ``app.include_router(metadata_router(md))`` (no ``dependencies=``: the document
is public). To put ``resource_metadata="…"`` in 401 challenges too, build the Guard with
``Guard(..., resource_metadata_url=md.metadata_url)``.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from p1guard import ResourceMetadata

__all__ = ["metadata_router"]


def metadata_router(metadata: ResourceMetadata) -> APIRouter:
    """An ``APIRouter`` answering ``GET metadata.well_known_path`` with the JSON document."""
    body = metadata.json_bytes()
    headers = {"Cache-Control": "max-age=3600"}
    router = APIRouter()

    async def protected_resource_metadata() -> Response:
        return Response(body, media_type="application/json", headers=headers)

    router.add_api_route(
        metadata.well_known_path,
        protected_resource_metadata,
        methods=["GET"],
        include_in_schema=False,
        response_class=Response,
    )
    return router
