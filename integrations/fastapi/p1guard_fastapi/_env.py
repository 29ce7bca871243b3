"""``P1GUARD_*`` environment variables → a :class:`~p1guard.Guard` (private; see ``from_env``).

Every problem raises :class:`~p1guard.ConfigError` naming the *variable* (``P1GUARD_AUDIENCE``),
not the Python parameter behind it. The keys are the ones ``p1guard_flask`` reads from
``app.config``, so one ``.env`` file configures either framework:

==============================  ===========================================================
variable                        meaning
==============================  ===========================================================
``P1GUARD_ENV_ID``              PingOne environment id (with ``P1GUARD_REGION``, default NA)
``P1GUARD_ISSUER``              or the issuer URL (custom domain); replaces env id + region
``P1GUARD_AUDIENCE``            required: the custom resource's audience (commas: several)
``P1GUARD_MODE``                ``jwt`` (default), ``introspect`` or ``auto``
``P1GUARD_CLIENT_ID``/``_SECRET``  the custom resource's credentials, for introspection
``P1GUARD_CHECK_REVOCATION``    ``true``: also introspect locally valid JWTs (default false)
``P1GUARD_LEEWAY``              clock skew in seconds (default 30)
``P1GUARD_REALM``               ``realm`` of the ``WWW-Authenticate`` challenge
``P1GUARD_TIMEOUT``             seconds per call to PingOne (default 5)
``P1GUARD_STRICT_TYP``          ``true``: demand ``typ: at+jwt`` in token headers
==============================  ===========================================================
"""

from __future__ import annotations

from p1guard.web import GUARD_SETTINGS, guard_from_env, setting_flag

__all__ = ["GUARD_VARIABLES", "env_flag", "guard_from_env"]

#: The variables that describe the Guard.
GUARD_VARIABLES = tuple(f"P1GUARD_{name}" for name in GUARD_SETTINGS)

#: A boolean variable: ``1/true/yes/on`` or ``0/false/no/off`` (any case); unset → default.
env_flag = setting_flag
