"""The rayline server: rayline's REST API (``/api/v1``) on FastAPI and uvicorn.

``rayline server`` runs it. It drives the executions started through it (in its own process),
runs the schedules, and checks who may do what (API tokens with roles, the audit log). Every
route calls the same Python API an embedded user calls; the server adds HTTP and identities,
never a second implementation of a domain.
"""

from rayline.server.app import create_app

__all__ = ["create_app"]
