"""/api/v1: tokens."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["tokens"])
