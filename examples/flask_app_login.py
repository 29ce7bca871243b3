"""A Flask web app that signs users in with PingOne, with the p1guard-flask extension.

Pages: ``GET /`` (public: who is signed in, a sign-in link or a sign-out button),
``GET /profile`` (signed-in users only), and the extension's ``/auth/login``,
``/auth/callback`` and ``/auth/logout``.

Run it against your PingOne environment (an "OIDC Web App" with the redirect URI below and
``http://127.0.0.1:5000/`` as sign-off URL)::

    pip install p1guard-flask
    export P1GUARD_ENV_ID=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 P1GUARD_REGION=EU
    export P1GUARD_LOGIN_CLIENT_ID=APP_ID P1GUARD_LOGIN_CLIENT_SECRET=APP_SECRET
    export P1GUARD_LOGIN_REDIRECT_URI=http://127.0.0.1:5000/auth/callback
    export P1GUARD_LOGIN_POST_LOGOUT_REDIRECT_URI=http://127.0.0.1:5000/
    export SECRET_KEY=$(python -c "import secrets; print(secrets.token_hex(32))")
    flask --app examples/flask_app_login.py run      # then open http://127.0.0.1:5000/

Browse at ``127.0.0.1`` (not ``localhost``): the session cookie belongs to the host of the
redirect URI.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from flask import Blueprint, Flask, render_template_string
from markupsafe import Markup

from p1guard.rp import WebLogin
from p1guard_flask import P1Guard, current_user, get_user

p1 = P1Guard()
pages = Blueprint("pages", __name__)

LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title></head>
<body>
  <nav>
    <a href="{{ url_for('pages.home') }}">Home</a>
    <a href="{{ url_for('pages.profile') }}">Profile</a>
  </nav>
  {% set user = p1guard_user() %}
  {% if user %}
    <form method="post" action="{{ url_for('p1guard.logout') }}">
      Signed in as <strong>{{ user.name }}</strong>
      <input type="hidden" name="csrf" value="{{ p1guard_csrf_token() }}">
      <button type="submit">Sign out</button>
    </form>
  {% else %}
    <p><a href="{{ url_for('p1guard.login', return_to=request.path) }}">Sign in</a></p>
  {% endif %}
  <h1>{{ title }}</h1>
  {{ content }}
</body></html>"""

HOME = """<p>{% if user %}Welcome back, {{ user.name }}.{% else %}Hello, stranger.{% endif %}</p>"""

PROFILE = """<dl>
  <dt>Name</dt><dd>{{ user.name }}</dd>
  <dt>Subject</dt><dd>{{ user.subject }}</dd>
  <dt>Email</dt><dd>{{ user.claims.get("email", "—") }}</dd>
  <dt>Access token valid until</dt><dd>{{ expires }}</dd>
</dl>"""


def _page(title: str, content: str, **context: object) -> str:
    inner = Markup(render_template_string(content, **context))  # rendered with autoescape
    return render_template_string(LAYOUT, title=title, content=inner)


@pages.get("/")
def home() -> str:
    """Public: greets the signed-in user, if any."""
    return _page("Home", HOME, user=get_user())


@pages.get("/profile")
@p1.login_required
def profile() -> str:
    """Signed-in users only; ``current_user.access_token`` is fresh enough to call an API."""
    expires_at = current_user.tokens.expires_at
    expires = (
        datetime.fromtimestamp(expires_at, timezone.utc).isoformat() if expires_at else "unknown"
    )
    return _page("Profile", PROFILE, user=current_user, expires=expires)


def create_app(web: WebLogin | None = None, *, secret_key: str | None = None) -> Flask:
    """Build the app; without ``web``, from the ``P1GUARD_*`` and ``SECRET_KEY`` variables."""
    app = Flask(__name__)
    if web is None:
        app.config.update({k: v for k, v in os.environ.items() if k.startswith("P1GUARD_")})
    app.secret_key = secret_key or os.environ.get("SECRET_KEY")
    p1.init_login(app, web=web)
    app.register_blueprint(pages)
    return app


if __name__ == "__main__":
    create_app().run(port=int(os.environ.get("PORT", "5000")))
