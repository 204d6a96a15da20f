"""The fault suite: every fault of the local cloud against every read path of the course.

``python -m course_tools faults [--json FILE]`` starts a private local cloud with the sample data and,
for each fault (a latency spike, 503 SlowDown, a reset connection, a truncated body, a stalled
answer, the endpoint down for a moment -- each *transient*: it lets up after a few attempts -- and
a 404 for a chunk that exists, a stall and an outage that outlast the deadline -- *permanent*),
reads the same few chunks of the nuclei image through each path: the three fetch helpers over
http:// and :func:`helpers.open_image` over s3:// and over http://. Each outcome is sorted as
``recovered`` (byte-identical to the fault-free read), ``clear error`` (one line naming the chunk,
the fault and the attempts), ``unclear error``, ``wrong data`` or ``hang`` (a watchdog stops
waiting after the deadline plus some slack). The targets (:mod:`course_tools.bench.targets`): no hang,
no wrong data, every transient fault recovered, every permanent one a clear error.

Modules: :mod:`~course_tools.faults.cases` (settings and faults), :mod:`~course_tools.faults.readers` (the
region, its references and the read paths), :mod:`~course_tools.faults.suite` (running and sorting),
:mod:`~course_tools.faults.watchdog` (a hang cannot block the suite), :mod:`~course_tools.faults.report`
(table, targets, JSON).

Examples
--------
>>> from course_tools.faults import run_suite, format_matrix
>>> result = run_suite()  # doctest: +SKIP
>>> print(format_matrix(result))  # doctest: +SKIP
"""

from __future__ import annotations

from course_tools.faults.cases import FaultCase, SuiteSettings, fault_cases
from course_tools.faults.readers import PATH_NAMES
from course_tools.faults.report import check_targets, format_checks, format_matrix, json_rows
from course_tools.faults.suite import OUTCOMES, Cell, SuiteResult, run_suite

__all__ = [
    "OUTCOMES",
    "PATH_NAMES",
    "Cell",
    "FaultCase",
    "SuiteResult",
    "SuiteSettings",
    "check_targets",
    "fault_cases",
    "format_checks",
    "format_matrix",
    "json_rows",
    "run_suite",
]
