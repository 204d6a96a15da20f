"""Every example in the docstrings runs and shows what it says (Shift-Tab in Jupyter shows them).

Examples that need the network or the local cloud are marked ``# doctest: +SKIP`` in the source.
"""

from __future__ import annotations

import doctest
import importlib

import pytest

from course_tools import REPO_ROOT

MODULES = sorted(
    ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")
    for package in ("helpers", "course_tools")
    for path in (REPO_ROOT / package).rglob("*.py")
    if path.name != "__main__.py"
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_learner_functions_have_examples() -> None:
    import helpers

    missing = []
    for name in helpers.__all__:
        value = getattr(helpers, name)
        is_error = isinstance(value, type) and issubclass(value, BaseException)
        if callable(value) and not isinstance(value, type(helpers)) and not is_error:
            doc = value.__doc__ or ""
            if "Examples" not in doc:
                missing.append(name)
    assert not missing, f"learner-facing names without an Examples section: {missing}"
