"""The Dask dashboard's link: local, or through Jupyter's proxy on a JupyterHub such as Binder.

On a laptop the dashboard is at ``http://127.0.0.1:PORT/status``. On Binder or any JupyterHub the
browser cannot reach the server's 127.0.0.1, but ``jupyter-server-proxy`` forwards
``<hub prefix>proxy/PORT/status`` to it; JupyterHub names the prefix in ``JUPYTERHUB_SERVICE_PREFIX``
(e.g. ``/user/alice/``).

Examples
--------
>>> dashboard_link_template({})
'{scheme}://{host}:{port}/status'
>>> dashboard_link_template({"JUPYTERHUB_SERVICE_PREFIX": "/user/alice/"})
'{JUPYTERHUB_SERVICE_PREFIX}proxy/{port}/status'
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import dask

__all__ = ["PREFIX_VARIABLE", "dashboard_link_template", "use_dashboard_proxy"]

log = logging.getLogger(__name__)

PREFIX_VARIABLE = "JUPYTERHUB_SERVICE_PREFIX"
"""The environment variable in which JupyterHub (and Binder) give the server's URL prefix."""

_LOCAL = "{scheme}://{host}:{port}/status"  # distributed's own default
_PROXIED = (
    "{" + PREFIX_VARIABLE + "}proxy/{port}/status"
)  # filled in by distributed from os.environ


def dashboard_link_template(environ: Mapping[str, str] | None = None) -> str:
    """The ``distributed.dashboard.link`` template that works here.

    Parameters
    ----------
    environ : mapping, optional
        The environment to look at (``os.environ`` by default).

    Returns
    -------
    str
        ``"{JUPYTERHUB_SERVICE_PREFIX}proxy/{port}/status"`` when ``JUPYTERHUB_SERVICE_PREFIX`` is set
        (distributed fills in both from the environment and the cluster), else the local
        ``"{scheme}://{host}:{port}/status"``.

    Examples
    --------
    >>> dashboard_link_template({"JUPYTERHUB_SERVICE_PREFIX": ""})
    '{scheme}://{host}:{port}/status'
    """
    env = os.environ if environ is None else environ
    return _PROXIED if env.get(PREFIX_VARIABLE) else _LOCAL


def use_dashboard_proxy(environ: Mapping[str, str] | None = None) -> str:
    """Set ``distributed.dashboard.link`` for this process, so ``client.dashboard_link`` opens here.

    Parameters
    ----------
    environ : mapping, optional
        The environment to look at (``os.environ`` by default).

    Returns
    -------
    str
        The template now in Dask's configuration (see :func:`dashboard_link_template`).

    Examples
    --------
    >>> use_dashboard_proxy({})
    '{scheme}://{host}:{port}/status'
    >>> dask.config.get("distributed.dashboard.link")
    '{scheme}://{host}:{port}/status'
    """
    template = dashboard_link_template(environ)
    dask.config.set({"distributed.dashboard.link": template})
    log.debug("Dask dashboard link template: %s", template)
    return template
