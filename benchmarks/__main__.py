"""Command line: ``python -m benchmarks [--quick] [--json] [--only NAME] [--list]``.

Prints one line per figure, ``name: value (target …) PASS|FAIL|INFO``, and exits 1 when a
target failed. ``--quick`` (CI, ≤ 60 s) runs smaller inputs and judges only counts and bounds:
its timing ratios are printed as ``INFO``.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback

from . import bounds, macro, micro, observability  # noqa: F401 - importing registers cases
from ._report import Figure, exit_code, machine, render_json, render_line
from ._suite import CASES, Context, select


def run(
    *, quick: bool, only: list[str], ctx: Context | None = None, echo: bool = False
) -> list[Figure]:
    """Run the selected cases and return their judged figures (a crash is a FAIL figure)."""
    ctx = ctx or Context(quick=quick)
    figures: list[Figure] = []
    try:
        for item in select(only, quick=quick):
            ctx.log(f"{item.name}: {item.doc}")
            try:
                produced = item.run(ctx)
            except Exception as exc:
                traceback.print_exc(file=sys.stderr)
                produced = [
                    Figure(f"{item.name}_crashed", 1.0, "", op="==", threshold=0, note=repr(exc))
                ]
            for figure in produced:
                figure.judge(quick=quick)
                figures.append(figure)
                if echo:
                    print(render_line(figure, details=ctx.verbose), flush=True)
    finally:
        ctx.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="CI mode: counts and bounds only")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead")
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="case name, group (micro, bounds, macro) or name substring; repeatable, "
        "comma-separated",
    )
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="details and progress")
    parser.add_argument("--wsgi-server", choices=["waitress", "gunicorn", "werkzeug"], default=None)
    parser.add_argument("--loader", choices=["auto", "wrk", "asyncio"], default="auto")
    args = parser.parse_args(argv)
    if args.list:
        for item in select([], quick=False):
            quick = "" if item.in_quick else " (full runs only)"
            print(f"{item.name:20s} {item.group:7s} {item.doc}{quick}")
        return 0
    only = [name for value in args.only for name in value.split(",") if name]
    unknown = [
        name
        for name in only
        if not any(name in (c.name, c.group) or name in c.name for c in CASES.values())
    ]
    if unknown:
        parser.error(f"no case matches {', '.join(unknown)} (see --list)")
    ctx = Context(
        quick=args.quick, wsgi_server=args.wsgi_server, loader=args.loader, verbose=args.verbose
    )
    if not args.json:
        info = machine()
        mode = "quick" if args.quick else "full"
        print(
            f"# p1guard benchmarks ({mode}): {info['nproc']} cores, {info['cpu']}, "
            f"Python {info['python']}",
            flush=True,
        )
    start = time.monotonic()
    figures = run(quick=args.quick, only=only, ctx=ctx, echo=not args.json)
    seconds = time.monotonic() - start
    if args.json:
        print(render_json(figures, quick=args.quick, seconds=seconds))
    else:
        failed = [f.name for f in figures if f.status == "FAIL"]
        verdict = f"{len(failed)} FAILED: {', '.join(failed)}" if failed else "all targets met"
        print(f"# {len(figures)} figures in {seconds:.1f} s; {verdict}")
    return exit_code(figures)


if __name__ == "__main__":
    sys.exit(main())
