"""``P1GUARD_*`` environment variables → a :class:`~p1guard.Guard` (private; see ``from_env``).

Every problem raises :class:`~p1guard.ConfigError` naming the *variable* (``P1GUARD_AUDIENCE``),
not the Python parameter behind it. The keys are the ones ``p1guard_flask`` reads from
``app.config``, so one ``.env`` file configures either framework; they are read by p1guard's
settings schema (the table of :mod:`p1guard._settings`, and the README).
"""

from __future__ import annotations

from p1guard.web import GUARD_SETTINGS, guard_from_env, setting_flag

__all__ = ["GUARD_VARIABLES", "env_flag", "guard_from_env"]

#: The variables that describe the Guard.
GUARD_VARIABLES = tuple(f"P1GUARD_{name}" for name in GUARD_SETTINGS)

#: A boolean variable: ``1/true/yes/on`` or ``0/false/no/off`` (any case); unset → default.
env_flag = setting_flag
