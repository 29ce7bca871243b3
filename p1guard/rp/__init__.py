"""Relying party: sign users in with PingOne.

>>> from p1guard import PingOne
>>> from p1guard.rp import RelyingParty
>>> rp = RelyingParty(PingOne(env_id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
...                   client_id="app", client_secret="s", redirect_uri="https://app.example/auth/callback")

``rp.begin()`` / ``rp.complete()`` / ``rp.refresh()`` / ``rp.revoke()`` / ``rp.logout_url()`` (and
``a…`` twins) are the protocol steps; :class:`WebLogin` turns them into login routes for any
framework, with a :class:`MemoryStore` or :class:`RedisStore` behind. :class:`PiFlowClient`
signs users in without redirects (``response_mode=pi.flow``): the app renders the form.
"""

from p1guard._tokens.tokens import TokenSet
from p1guard.rp._errors import (
    LoginError,
    PushedAuthorizationError,
    UserinfoInsufficientScope,
    UserinfoInvalidToken,
)
from p1guard.rp._form_login import NEW_FORM, FormStep
from p1guard.rp._piflow import FlowError, PiFlow, PiFlowClient
from p1guard.rp._relying_party import RelyingParty
from p1guard.rp._session import SignedInUser
from p1guard.rp._store import MemoryStore, RedisStore, SessionStore, StoreUnavailable
from p1guard.rp._transaction import LoginStart, LoginTransaction, safe_return_to
from p1guard.rp._web import WebLogin

__all__ = [
    "NEW_FORM",
    "FlowError",
    "FormStep",
    "LoginError",
    "LoginStart",
    "LoginTransaction",
    "MemoryStore",
    "PiFlow",
    "PiFlowClient",
    "PushedAuthorizationError",
    "RedisStore",
    "RelyingParty",
    "SessionStore",
    "SignedInUser",
    "StoreUnavailable",
    "TokenSet",
    "UserinfoInsufficientScope",
    "UserinfoInvalidToken",
    "WebLogin",
    "safe_return_to",
]
