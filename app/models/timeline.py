"""The participant's timeline: one entry per record the caller may see, newest first."""

import uuid
from datetime import datetime

from pydantic import BaseModel


class TimelineEntry(BaseModel):
    kind: str
    id: uuid.UUID
    at: datetime
    category: str
    source_org_id: uuid.UUID
    summary: str
