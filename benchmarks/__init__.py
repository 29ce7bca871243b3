"""p1guard's performance suite: ``python -m benchmarks [--quick] [--json] [--only NAME]``.

Every timing is a ratio against a baseline measured in the same run (see ``README.md``):

* :mod:`benchmarks.micro` — the hot path against the ``cryptography`` floor, PyJWT and Authlib;
* :mod:`benchmarks.bounds` — single-flight, key-id storms and cache bounds (exact counts);
* :mod:`benchmarks.macro` — protected vs bare app behind real ASGI and WSGI servers.
"""
