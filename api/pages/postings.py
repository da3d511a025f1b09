"""(Being written.)"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.pages.web import check_csrf

router = APIRouter(include_in_schema=False, dependencies=[Depends(check_csrf)])
