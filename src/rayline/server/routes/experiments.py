"""/api/v1: experiments."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["experiments"])
