"""The participant's timeline: one entry per record the caller may see, newest first."""

import uuid
from datetime import datetime

from pydantic import BaseModel

from app.sharing.categories import Category


class TimelineEntry(BaseModel):
    kind: str
    id: uuid.UUID
    at: datetime
    category: Category
    source_org_id: uuid.UUID
    summary: str
