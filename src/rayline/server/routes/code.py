"""/api/v1: code."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["code"])
