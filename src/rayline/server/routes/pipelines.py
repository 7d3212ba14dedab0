"""/api/v1: pipelines."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["pipelines"])
