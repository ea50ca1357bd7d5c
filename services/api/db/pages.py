"""One page of a listing (`limit` rows from `offset`) with the total, as every list endpoint answers."""

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.db.models import Base

Row = TypeVar("Row", bound=Base)


async def page_of(
    session: AsyncSession,
    model: type[Row],
    where: ColumnElement[bool],
    order_by: tuple[Any, ...],
    limit: int,
    offset: int,
) -> tuple[list[Row], int]:
    """The rows of `model` that match `where`, sorted by `order_by` (which should end in a unique
    column, so consecutive pages neither repeat nor skip a row), and how many match in all."""
    total = await session.scalar(select(func.count()).select_from(model).where(where))
    rows = await session.scalars(select(model).where(where).order_by(*order_by).limit(limit).offset(offset))
    return list(rows), total or 0
