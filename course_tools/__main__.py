"""``python -m course_tools COMMAND``: the course's tools, one command each."""

from __future__ import annotations

import sys

COMMANDS = {
    "binder": ("course_tools.binder", "run every notebook as one Binder-shaped session, measured"),
}


def main(argv: list[str] | None = None) -> int:
    """Run ``COMMAND`` with the rest of the arguments; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        lines = [f"  {name:<10} {text}" for name, (_, text) in COMMANDS.items()]
        print("usage: python -m course_tools COMMAND [--help]\n\ncommands:\n" + "\n".join(lines))
        if argv and argv[0] not in ("-h", "--help"):
            print(f"error: unknown command {argv[0]!r}", file=sys.stderr)
            return 2
        return 0
    module = __import__(COMMANDS[argv[0]][0], fromlist=["main"])
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
