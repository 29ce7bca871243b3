"""Figures and how they are printed: ``name: value (target …) PASS|FAIL``.

A :class:`Figure` is one measured number with an optional target. Timing figures are ratios
against a baseline measured in the same run; in ``--quick`` mode they are reported as
``INFO`` (no verdict), because timing ratios are too noisy for CI.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["Figure", "Status", "exit_code", "machine", "render_json", "render_line"]

Status = Literal["PASS", "FAIL", "INFO"]
Op = Literal["<=", ">=", "=="]

_OP_TEXT = {"<=": "≤", ">=": "≥", "==": "="}


@dataclass
class Figure:
    """One reported number.

    ``op``/``threshold`` state the target (``None`` for informational figures); ``timing``
    marks ratios of timings, which ``--quick`` downgrades to ``INFO``. ``detail`` carries the
    absolute numbers behind a ratio (µs per operation, rounds, …) for the JSON output and the
    trailing ``[…]`` of the text line.

    >>> render_line(Figure("x_vs_floor", 1.25, "x", op="<=", threshold=1.4))
    'x_vs_floor: 1.25x (target ≤ 1.40x) PASS'
    """

    name: str
    value: float
    unit: str = ""
    op: Op | None = None
    threshold: float | None = None
    target_text: str | None = None
    timing: bool = False
    detail: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    status: Status = "INFO"

    def judge(self, *, quick: bool) -> Figure:
        """Set :attr:`status` from the target (timings are ``INFO`` in quick mode)."""
        if self.op is None or self.threshold is None or (quick and self.timing):
            self.status = "INFO"
        elif self.op == "<=":
            self.status = "PASS" if self.value <= self.threshold else "FAIL"
        elif self.op == ">=":
            self.status = "PASS" if self.value >= self.threshold else "FAIL"
        else:
            self.status = "PASS" if self.value == self.threshold else "FAIL"
        return self


def _fmt(value: float, unit: str) -> str:
    if not math.isfinite(value):
        return "n/a"
    if unit == "x":
        return f"{value:.2f}x"
    if value == int(value) and abs(value) < 1e15:
        text = f"{int(value)}"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".rstrip() if unit else text


def _target(fig: Figure) -> str:
    if fig.target_text is not None:
        return fig.target_text
    if fig.op is None or fig.threshold is None:
        return "none"
    return f"{_OP_TEXT[fig.op]} {_fmt(fig.threshold, fig.unit)}"


def _detail_text(detail: dict[str, Any]) -> str:
    parts = []
    for key, value in detail.items():
        if isinstance(value, float):
            parts.append(f"{key}={value:.3g}")
        elif isinstance(value, str | int | bool):
            parts.append(f"{key}={value}")
    return ", ".join(parts)


def _value(fig: Figure) -> str:
    text = _fmt(fig.value, fig.unit)
    # A ratio that rounds onto its threshold gets a third decimal, so "0.90x … FAIL" never shows.
    if (
        fig.unit == "x"
        and fig.threshold is not None
        and math.isfinite(fig.value)
        and fig.value != fig.threshold
        and round(fig.value, 2) == round(fig.threshold, 2)
    ):
        text = f"{fig.value:.3f}x"
    return text


def render_line(fig: Figure, *, details: bool = False) -> str:
    """``name: value (target …) STATUS``, optionally followed by ``  [details]``."""
    line = f"{fig.name}: {_value(fig)} (target {_target(fig)}) {fig.status}"
    if details:
        extra = _detail_text(fig.detail)
        if fig.note:
            extra = f"{extra}; {fig.note}" if extra else fig.note
        if extra:
            line += f"  [{extra}]"
    return line


def machine() -> dict[str, Any]:
    """What ran the benchmark: cores, CPU model, Python and key library versions."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        model = platform.processor()
    versions: dict[str, str] = {}
    for dist in ("cryptography", "pyjwt", "authlib", "uvicorn", "starlette", "waitress"):
        try:
            from importlib.metadata import version

            versions[dist] = version(dist)
        except Exception:
            continue
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "versions": versions,
    }


def _jsonable(value: Any) -> Any:
    """NaN/inf (an unmeasured figure) become ``null``: JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def render_json(figures: Iterable[Figure], *, quick: bool, seconds: float) -> str:
    """The run as JSON: machine, mode, duration and every figure."""
    figs = list(figures)
    return json.dumps(
        {
            "machine": machine(),
            "quick": quick,
            "seconds": round(seconds, 2),
            "failed": [f.name for f in figs if f.status == "FAIL"],
            "figures": [_jsonable(asdict(f)) for f in figs],
        },
        indent=2,
        default=str,
    )


def exit_code(figures: Iterable[Figure]) -> int:
    """1 when any figure failed its target, else 0."""
    return 1 if any(f.status == "FAIL" for f in figures) else 0
