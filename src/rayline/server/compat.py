"""Which clients may store code on this server and start it: ``X-Rayline-Client``.

A client sends ``X-Rayline-Client: rayline/<version> python/<x.y.z>``. Step functions travel
pickled (cloudpickle), and a pickle written by one Python minor version, or against one rayline's
classes, may not load (or may behave differently) under another. So the routes that store code
or run it (upsert, code upload, start) refuse a client whose Python major.minor or rayline
version differs from the server's, with a 409 that names both. A request without the header
(curl, a script of the user's) is let through: it sends no pickles of its own Python.
"""

from __future__ import annotations

import platform
import re
from typing import Annotated

from fastapi import Header

from rayline._version import __version__
from rayline.errors import ConflictError, UserInputError

HEADER = "X-Rayline-Client"

_FORMAT = re.compile(r"^\s*rayline/(?P<rayline>\S+)\s+python/(?P<python>\d+\.\d+(?:\.\S+)?)\s*$")


def parse_client(value: str) -> tuple[str, str]:
    """``(rayline version, python version)`` of a header value (``UserInputError`` when it is
    not ``rayline/<version> python/<x.y.z>``)."""
    match = _FORMAT.match(value)
    if match is None:
        raise UserInputError(
            f"{HEADER} {value!r} is not 'rayline/<version> python/<x.y.z>' (for example "
            f"'rayline/{__version__} python/{platform.python_version()}'); send that or no "
            "header at all"
        )
    return match["rayline"], match["python"]


def check_client(
    x_rayline_client: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description="rayline/<version> python/<x.y.z> of the client",
            max_length=200,
        ),
    ] = None,
) -> None:
    """A route dependency: refuse (``ConflictError``, 409) a client whose Python major.minor or
    rayline version differs from this server's; no header is allowed."""
    if x_rayline_client is None:
        return
    client_rayline, client_python = parse_client(x_rayline_client)
    server_python = platform.python_version()
    differences = []
    if _minor(client_python) != _minor(server_python):
        differences.append(f"Python {client_python} (the server runs Python {server_python})")
    if client_rayline != __version__:
        differences.append(f"rayline {client_rayline} (the server runs rayline {__version__})")
    if differences:
        raise ConflictError(
            f"this client runs {' and '.join(differences)}: step code pickled by the client "
            "might not load on the server. Run the client with Python "
            f"{_minor(server_python)} and rayline {__version__}, as the server does (or run a "
            "server with the client's versions)"
        )


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])
