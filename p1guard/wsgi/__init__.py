"""WSGI: the bearer-token middleware for any WSGI app (Flask, Django, …).

>>> from p1guard.wsgi import ENVIRON_KEY
>>> ENVIRON_KEY
'p1guard.access_token'
"""

from p1guard.wsgi._middleware import ENVIRON_KEY, BearerTokenMiddleware

__all__ = ["ENVIRON_KEY", "BearerTokenMiddleware"]
