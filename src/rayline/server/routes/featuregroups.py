"""/api/v1: featuregroups."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["featuregroups"])
