"""/api/v1: executions."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["executions"])
