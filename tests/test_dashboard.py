"""The Dask dashboard link: local by default, through Jupyter's proxy on a JupyterHub (Binder)."""

from __future__ import annotations

import dask
from distributed.utils import format_dashboard_link

from course_tools.dashboard import PREFIX_VARIABLE, dashboard_link_template, use_dashboard_proxy


def test_local_link_without_a_hub() -> None:
    with dask.config.set({"distributed.dashboard.link": "unset"}):
        use_dashboard_proxy({})
        assert format_dashboard_link("127.0.0.1", 8787) == "http://127.0.0.1:8787/status"


def test_proxied_link_on_a_hub(monkeypatch) -> None:
    monkeypatch.setenv(PREFIX_VARIABLE, "/user/alice/")
    with dask.config.set({"distributed.dashboard.link": "unset"}):
        assert use_dashboard_proxy() == dashboard_link_template()
        assert format_dashboard_link("127.0.0.1", 40123) == "/user/alice/proxy/40123/status"


def test_empty_prefix_means_no_hub() -> None:
    assert dashboard_link_template({PREFIX_VARIABLE: ""}) == dashboard_link_template({})
