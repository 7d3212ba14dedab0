"""The rayline server: rayline's REST API (``/api/v1``) on FastAPI and uvicorn.

``rayline server`` runs it. It owns the executions it starts (and resumes those whose owner's
lease lapsed), runs the schedules, delivers webhooks, and checks who may do what. Every route
calls the same Python API an embedded user calls; the server adds HTTP, identities and
ownership, never a second implementation of a domain.
"""

from rayline.server.app import create_app

__all__ = ["create_app"]
