"""Counts for the home page, from the same core function the Streamlit home uses."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from core import stats
from webhook.deps import CurrentActor, DbSession

router = APIRouter(prefix="/api/stats", tags=["stats"])


class CampaignCounts(BaseModel):
    total: int
    by_status: dict[str, int] = Field(description="Every campaign status, zeros included.")


class StatsOut(BaseModel):
    contacts: int
    labels: int
    conversations: int
    segments: int
    campaigns: CampaignCounts


@router.get("", summary="How many contacts, segments and campaigns (by status) there are")
def get_stats(session: DbSession, actor: CurrentActor) -> StatsOut:
    counts = stats.dashboard_counts(session, actor)
    return StatsOut(
        contacts=counts.contacts,
        labels=counts.labels,
        conversations=counts.conversations,
        segments=counts.segments,
        campaigns=CampaignCounts(total=counts.campaigns, by_status=counts.campaigns_by_status),
    )
