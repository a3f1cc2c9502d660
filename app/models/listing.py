"""List responses of whole-record categories: what is shown, and counts of what is not."""

from typing import Generic, TypeVar

from pydantic import BaseModel

from app.core.pagination import Page
from app.sharing.categories import Category

T = TypeVar("T")


class WithheldCountRead(BaseModel):
    """Records of one category left out of a response, how many, and why."""

    category: Category
    reason: str
    count: int


class RecordPage(Page[T], Generic[T]):
    """One page of records; `withheld` counts the records of this page left out."""

    withheld: list[WithheldCountRead] = []
