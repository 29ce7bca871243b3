"""Serve RFC 9728 Protected Resource Metadata from a Flask app.

>>> from p1guard import ResourceMetadata
>>> md = ResourceMetadata("https://api.example.com", "https://auth.pingone.eu/env/as")
>>> from flask import Flask
>>> app = Flask(__name__)
>>> app.register_blueprint(metadata_blueprint(md))
>>> app.test_client().get("/.well-known/oauth-protected-resource").json["resource"]
'https://api.example.com'

The document is public: keep its path out of ``protect_blueprint``. To put
``resource_metadata="…"`` in 401 challenges too, build the Guard with
``Guard(..., resource_metadata_url=md.metadata_url)``.
"""

from __future__ import annotations

from flask import Blueprint, Response

from p1guard import ResourceMetadata

__all__ = ["metadata_blueprint"]


def metadata_blueprint(metadata: ResourceMetadata, *, name: str = "p1guard_metadata") -> Blueprint:
    """A blueprint answering ``GET``/``HEAD metadata.well_known_path`` with the JSON document
    (cacheable for an hour); other methods get Flask's 405. ``name``: the blueprint's name
    (the endpoint is ``f"{name}.document"``)."""
    body = metadata.json_bytes()
    headers = dict(metadata.response_headers(body))
    blueprint = Blueprint(name, __name__)

    def protected_resource_metadata() -> Response:
        return Response(body, headers=headers)

    blueprint.add_url_rule(
        metadata.well_known_path,
        "document",
        protected_resource_metadata,
        methods=["GET"],
    )
    return blueprint
