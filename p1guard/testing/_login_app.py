"""The login endpoints of the mock PingOne: ``/authorize``, ``/par``, ``/userinfo``, ``/signoff``.

Rules:
1. ``/authorize`` never redirects before the client and its exact redirect URI are known:
   those errors (and bad ``request_uri`` values) are a 400 page, JSON unless the browser
   prefers HTML. Later errors go back to the client like a code does.
2. Every authorization response, success or error, carries ``iss`` (RFC 9207) and echoes
   ``state``; ``response_mode`` is ``query`` (default), ``fragment`` or ``form_post``;
   ``pi.flow`` answers a redirectless flow instead, and its errors as JSON (``_piflow``).
3. With a ``request_uri`` only the pushed parameters count (RFC 9126 §4); the query must
   name the same ``client_id``.
4. ``/par`` authenticates the client like ``/token`` (public clients send ``client_id``)
   and answers ``201 {"request_uri", "expires_in"}``.
5. ``/userinfo`` takes ``Authorization: Bearer`` and, for DPoP-bound tokens only,
   ``Authorization: DPoP`` with a proof (``htm``, ``htu``, ``ath``, the nonce when required);
   it answers RFC 6750 / RFC 9449 §7.1 challenges.
6. ``/signoff`` checks ``post_logout_redirect_uri`` against the client named by
   ``id_token_hint`` (or ``client_id``) before it ends the session.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from p1guard.testing._authorize import check_authorize, client_redirect, response_mode
from p1guard.testing._dpop import DPOP_ALGORITHMS, ProofError
from p1guard.testing._http import (
    NO_STORE,
    OAuthError,
    add_params,
    error_page,
    error_response,
    form_post_page,
    html_page,
    json_response,
    read_form,
    read_params,
    required,
)
from p1guard.testing._keys import apply_overrides
from p1guard.testing._login import OIDC_SCOPES, user_claims

if TYPE_CHECKING:
    from p1guard.testing._app import MockApp

__all__ = ["authorize", "par", "signoff", "userinfo"]


def _redirect(location: str) -> Response:
    return Response(b"", status=302, headers={"Location": location, **NO_STORE})


def authorize(app: MockApp, request: Request) -> Response:
    """``GET|POST /authorize``: sign the test user in and send a code back."""
    mock = app.mock
    login = mock._login
    try:
        params = read_params(request)
        login.remember(params)
        pushed = "request_uri" in params
        if pushed:
            params = login.take_pushed(params["request_uri"], required(params, "client_id"))
        client, redirect_uri = client_redirect(mock._clients.get(params.get("client_id")), params)
    except OAuthError as exc:
        return error_page(request, exc.error, exc.description)
    mode = "query"
    answer: dict[str, str | None]
    try:
        mode = response_mode(params)
        known = (*OIDC_SCOPES, *mock.scopes)
        checked = check_authorize(params, client, redirect_uri, known, pushed=pushed)
        if mode == "pi.flow":
            return mock._piflows.start(checked, params.get("state") or None)
        answer = {"code": login.authorize(checked)}
    except OAuthError as exc:
        if mode == "pi.flow":
            return error_response(exc.status, exc.error, exc.description, **NO_STORE)
        answer = {"error": exc.error, "error_description": exc.description}
    answer["state"] = params.get("state") or None
    answer["iss"] = mock.issuer
    apply_overrides(answer, login.take_callback_tamper())
    final = {name: value for name, value in answer.items() if value is not None}
    if mode == "form_post":
        return form_post_page(redirect_uri, final)
    return _redirect(add_params(redirect_uri, final, fragment=mode == "fragment"))


def par(app: MockApp, request: Request) -> Response:
    """``POST /par`` (RFC 9126): validate and store an authorization request."""
    mock = app.mock
    form = read_form(request)
    mock._login.remember(form)
    client_id = app.authenticate(request, form, mock.par_endpoint, public=True)
    client = mock._clients.get(client_id)
    if client is None or "authorization_code" not in client.grant_types:
        raise OAuthError(400, "unauthorized_client", "the client cannot sign users in")
    if "request_uri" in form:
        raise OAuthError(400, "invalid_request", "request_uri is not allowed in a pushed request")
    params = {**form, "client_id": client_id}
    jkt = app.dpop_proof(request, mock.par_endpoint)  # RFC 9449 §10.1: binds the code too
    if jkt is not None and params.setdefault("dpop_jkt", jkt) != jkt:
        raise OAuthError(400, "invalid_dpop_proof", "dpop_jkt does not match the DPoP proof")
    _, redirect_uri = client_redirect(client, params)
    response_mode(params)
    check_authorize(params, client, redirect_uri, (*OIDC_SCOPES, *mock.scopes), pushed=True)
    request_uri, expires_in = mock._login.push(client_id, params)
    body = {"request_uri": request_uri, "expires_in": expires_in}
    return json_response(body, 201, NO_STORE)


def _bearer_error(
    where: str,
    status: int,
    error: str | None,
    description: str,
    *,
    scheme: str = "Bearer",
    extra: Mapping[str, str] | None = None,
) -> Response:
    """A refusal with the error in the challenge and/or the JSON body (``where``: ``"both"``,
    ``"header"`` or ``"body"``, from ``op.userinfo_errors_in``)."""
    challenge = f'{scheme} realm="PingOne"'
    if scheme == "DPoP":
        challenge += f', algs="{" ".join(DPOP_ALGORITHMS)}"'
    if error is not None and (where != "body" or error == "use_dpop_nonce"):  # RFC 9449 §9
        challenge += f', error="{error}", error_description="{description}"'
        if error == "insufficient_scope":
            challenge += ', scope="openid"'
    headers = {**NO_STORE, **(extra or {}), "WWW-Authenticate": challenge}
    if where == "header":
        return Response(b"", status=status, headers=headers)
    return error_response(status, error or "invalid_request", description, **headers)


def userinfo(app: MockApp, request: Request) -> Response:
    """``GET|POST /userinfo``: the user's claims that the token's scopes release."""
    mock = app.mock
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    token, scheme = token.strip(), scheme.lower()
    if scheme not in ("bearer", "dpop") or not token:
        return _bearer_error(mock.userinfo_errors_in, 401, None, "missing bearer token")
    claims = mock.introspect(token)
    sub = claims.get("sub")
    if not claims.get("active") or not isinstance(sub, str):
        return _bearer_error(
            mock.userinfo_errors_in, 401, "invalid_token", "the access token is invalid"
        )
    cnf = claims.get("cnf")
    bound = cnf.get("jkt") if isinstance(cnf, dict) else None
    nonce = mock._dpop.nonce_header()
    if scheme == "bearer" and bound is not None:  # RFC 9449 §7.2: a bound token needs its proof
        return _bearer_error(
            mock.userinfo_errors_in,
            401,
            "invalid_token",
            "DPoP-bound token",
            scheme="DPoP",
            extra=nonce,
        )
    if scheme == "dpop":
        proofs = request.headers.getlist("DPoP")
        try:
            url = mock.userinfo_endpoint
            jkt = mock._dpop.check(proofs, request.method, url, access_token=token)
        except ProofError as exc:
            return _bearer_error(
                mock.userinfo_errors_in, 401, exc.error, exc.description, scheme="DPoP", extra=nonce
            )
        if bound is None or jkt != bound:
            return _bearer_error(
                mock.userinfo_errors_in,
                401,
                "invalid_token",
                "the proof's key is not the token's",
                scheme="DPoP",
            )
    scopes = mock._login.granted_scopes(token) or tuple(str(claims.get("scope", "")).split())
    if "openid" not in scopes:
        return _bearer_error(
            mock.userinfo_errors_in, 403, "insufficient_scope", "the access token lacks openid"
        )
    user = mock.user
    body = user_claims(user, scopes) if sub == user.get("sub") else {"sub": sub}
    return json_response(body, headers={**NO_STORE, **nonce})


def signoff(app: MockApp, request: Request) -> Response:
    """``GET|POST /signoff``: end the session; redirect to a registered URI or show a page."""
    mock = app.mock
    try:
        params = read_params(request)
        client_id = params.get("client_id") or None
        hint = params.get("id_token_hint")
        if hint:
            issued_to = mock._login.id_token_client(hint)
            if issued_to is None:
                raise OAuthError(400, "invalid_request", "id_token_hint was not issued here")
            if client_id not in (None, issued_to):
                raise OAuthError(400, "invalid_request", "client_id does not match id_token_hint")
            client_id = issued_to
        uri = params.get("post_logout_redirect_uri")
        if uri:
            client = mock._clients.get(client_id)
            if client is None:
                raise OAuthError(
                    400, "invalid_request", "post_logout_redirect_uri needs id_token_hint"
                )
            if uri not in client.post_logout_redirect_uris:
                raise OAuthError(
                    400, "invalid_request", "post_logout_redirect_uri is not registered"
                )
    except OAuthError as exc:
        return error_page(request, exc.error, exc.description)
    mock._login.sign_out()
    if uri:
        state = params.get("state")
        return _redirect(add_params(uri, {"state": state} if state else {}))
    return html_page("Signed off", "You have been signed off.")
