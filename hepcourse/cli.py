"""The ``hepcourse`` command.

    hepcourse release [ASSIGNMENT ...] [--force]   regenerate exercises/ from solutions/
    hepcourse list                                 list the assignments
"""

from __future__ import annotations

import argparse
import sys


def _release(args) -> int:
    from .grading.release import ModifiedReleaseError, release

    try:
        written = release(args.assignments or None, force=args.force)
    except ModifiedReleaseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path in written:
        print(f"released {path}")
    return 0


def _list(args) -> int:
    from .grading.course import assignments

    for name in assignments():
        print(name)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hepcourse", description="Tools of the course Machine Learning for Particle Physics.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("release", help="regenerate exercises/ from solutions/ with nbgrader")
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    p.add_argument("--force", action="store_true", help="overwrite releases edited by hand")
    p.set_defaults(func=_release)

    p = sub.add_parser("list", help="list the assignments")
    p.set_defaults(func=_list)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
