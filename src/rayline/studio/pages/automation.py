"""Studio's automation pages (being built)."""

from __future__ import annotations

from fastapi import APIRouter

from rayline.studio.web import PREFIX

router = APIRouter(prefix=PREFIX, include_in_schema=False)
