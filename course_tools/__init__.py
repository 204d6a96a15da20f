"""The course's machinery: what runs the course rather than what it teaches.

Learners read ``helpers/``; this package holds the tools around it, held to production standards:
``python -m course_tools --help`` lists the commands.

- :mod:`course_tools.sandbox` -- a session shaped like mybinder.org's (cgroup: memory and CPU limits)
- :mod:`course_tools.binder` -- the whole course run and measured inside it
"""

from pathlib import Path

__all__ = ["REPO_ROOT"]

REPO_ROOT: Path = Path(__file__).resolve().parent.parent
"""The folder that holds ``helpers/``, ``course_tools/`` and ``notebooks/``."""
