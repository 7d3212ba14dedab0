"""/api/v1: webhooks."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["webhooks"])
