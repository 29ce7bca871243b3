"""The adapter kit: what a framework integration is built from.

p1guard's own middlewares (:mod:`p1guard.asgi`, :mod:`p1guard.wsgi`) and the Flask, FastAPI and
Django packages use these pieces, and so can an adapter for another framework:

* reading credentials: :func:`extract_credentials`, :func:`extract_bearer`,
  :func:`query_tokens`, :func:`split_proofs`, :func:`presentation_for`, :class:`Presentation`,
  :class:`ClientCertificates`;
* the request pipeline: :class:`BearerRules` (read → verify → challenge), path rules
  (:class:`PathMatcher`, :func:`parse_path_entry`), rendering (:func:`error_response`,
  :func:`stamp_challenge`, :func:`log_rejection`) and RFC 9728 :class:`ResourceMetadata`;
* what a route requires: :class:`Requirements` (validated once; its ``authorize`` is the one
  order of the checks), :func:`require_scopes`, :func:`require_authentication`,
  :func:`step_up_options`, claim rules (:func:`check_rules`, :func:`require_claims`);
* settings: :func:`guard_from_settings`, :func:`web_login_from_settings` and their names;
  :data:`SETTINGS_SCHEMA` (every setting: name, parser, default, the object and keyword it
  feeds), :func:`read_settings` (every :class:`SettingProblem` at once) and :func:`unknown_settings`
  (typos, with "did you mean"), :func:`given_settings`, from the one schema;
* login glue for web pages: :class:`Answer` and the page builders of the login routes.

>>> from p1guard.web import extract_bearer
>>> extract_bearer(["Bearer abc.def.ghi"])
'abc.def.ghi'
"""

from p1guard._requirements import (
    Match,
    Requirements,
    require_authentication,
    require_scopes,
    step_up_options,
)
from p1guard._schema import SETTINGS as SETTINGS_SCHEMA
from p1guard._schema import Problem as SettingProblem
from p1guard._schema import given as given_settings
from p1guard._schema import read as read_settings
from p1guard._schema import unknown_keys as unknown_settings
from p1guard._sender.binding import Presentation, Scheme
from p1guard._sender.certificates import ClientCertificates
from p1guard._settings import (
    GUARD_SETTINGS,
    LOGIN_SETTINGS,
    guard_from_env,
    guard_from_settings,
    pingone_from_settings,
    setting_flag,
    web_login_from_env,
    web_login_from_settings,
)
from p1guard._tokens.claims import ClaimRule, check_rules, require_claims
from p1guard._values import check_origin
from p1guard._web.bearer import (
    BearerRules,
    ErrorResponse,
    error_response,
    log_rejection,
    stamp_challenge,
)
from p1guard._web.credentials import (
    extract_bearer,
    extract_credentials,
    is_host,
    presentation_for,
    query_tokens,
    split_proofs,
)
from p1guard._web.paths import PathMatcher, parse_path_entry
from p1guard._web.resource_metadata import ResourceMetadata
from p1guard.rp._pages import (
    PAGE_HEADERS,
    Answer,
    error_answer,
    form_login_page,
    html_answer,
    login_params,
    login_required_answer,
    login_required_body,
    logout_page,
    negotiate,
    step_up_answer,
    step_up_login_url,
)
from p1guard.rp._session import Session, secure_cookie

__all__ = [
    "GUARD_SETTINGS",
    "LOGIN_SETTINGS",
    "PAGE_HEADERS",
    "SETTINGS_SCHEMA",
    "Answer",
    "BearerRules",
    "ClaimRule",
    "ClientCertificates",
    "ErrorResponse",
    "Match",
    "PathMatcher",
    "Presentation",
    "Requirements",
    "ResourceMetadata",
    "Scheme",
    "Session",
    "SettingProblem",
    "check_origin",
    "check_rules",
    "error_answer",
    "error_response",
    "extract_bearer",
    "extract_credentials",
    "form_login_page",
    "given_settings",
    "guard_from_env",
    "guard_from_settings",
    "html_answer",
    "is_host",
    "log_rejection",
    "login_params",
    "login_required_answer",
    "login_required_body",
    "logout_page",
    "negotiate",
    "parse_path_entry",
    "pingone_from_settings",
    "presentation_for",
    "query_tokens",
    "read_settings",
    "require_authentication",
    "require_claims",
    "require_scopes",
    "secure_cookie",
    "setting_flag",
    "split_proofs",
    "stamp_challenge",
    "step_up_answer",
    "step_up_login_url",
    "step_up_options",
    "unknown_settings",
    "web_login_from_env",
    "web_login_from_settings",
]
