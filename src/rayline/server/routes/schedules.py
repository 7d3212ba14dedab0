"""/api/v1: schedules."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["schedules"])
