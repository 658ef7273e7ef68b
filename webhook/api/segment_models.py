"""The shapes of segment requests and answers (``/api/segments``, labels, custom fields).

Criteria travel as the JSON document the core validates (``core.segments.criteria``), so
an invalid one is refused by the same rules as in the app, with the path of each bad part.
Answers are built from core objects with ``of``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.custom_fields import CustomField, FieldDiscovery
from core.segment_members import MemberPage
from core.segment_refresh import RefreshRequest
from core.segments import MembershipHistoryEntry, Preview, SegmentSummary, SnapshotResult

CRITERIA_HELP = (
    'A criteria document, e.g. {"type": "all", "conditions": [{"type": "labels", "match": '
    '"any", "labels": ["vip"]}]}; see GET /api/segments/criteria-schema.'
)


class SegmentIn(BaseModel):
    """A new segment. Saving it takes its first snapshot (a static one freezes here)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str | None = None
    kind: str = Field(default="dynamic", description="dynamic (follows the data) or static")
    criteria: dict[str, Any] = Field(description=CRITERIA_HELP)


class SegmentChanges(BaseModel):
    """Only the fields sent change; new criteria or kind take a new snapshot."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    description: str | None = None
    kind: str | None = None
    criteria: dict[str, Any] | None = Field(default=None, description=CRITERIA_HELP)


class CriteriaIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    criteria: dict[str, Any] = Field(description=CRITERIA_HELP)


class SegmentOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    kind: str = Field(description="dynamic or static")
    criteria: dict[str, Any]
    contact_count: int = Field(description="Members at the last snapshot.")
    reachable_count: int = Field(description="Members not opted out, at the last snapshot.")
    opted_out_count: int
    last_refreshed_at: datetime | None = Field(description="When the members were last taken.")
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    campaign_count: int = Field(description="Campaigns naming this segment, in any status.")
    active_campaigns: list[str] = Field(description="Scheduled, running or paused ones.")

    @classmethod
    def of(cls, summary: SegmentSummary) -> SegmentOut:
        return cls(
            id=summary.id,
            name=summary.name,
            description=summary.description,
            kind=summary.kind,
            criteria=summary.criteria,
            contact_count=summary.contact_count,
            reachable_count=summary.reachable_count,
            opted_out_count=summary.contact_count - summary.reachable_count,
            last_refreshed_at=summary.last_refreshed_at,
            created_by=summary.created_by,
            created_at=summary.created_at,
            updated_at=summary.updated_at,
            campaign_count=summary.campaign_count,
            active_campaigns=list(summary.active_campaigns),
        )


class SampleMemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    contact_id: uuid.UUID
    name: str
    phone: str = Field(description="E.164, masked (+62812•••••890) unless your role sees it.")
    phone_masked: bool
    labels: list[str]
    last_interaction_at: datetime | None
    opted_out: bool


class PreviewOut(BaseModel):
    matching: int
    reachable: int = Field(description="Matching contacts not opted out.")
    opted_out: int
    sample: list[SampleMemberOut] = Field(description="Up to 20 members.")
    by_status: dict[str, int] = Field(description='Latest conversation status ("none": none).')
    by_label: dict[str, int]
    features_computed_at: datetime | None = Field(
        description="The oldest contact features used: no figure is staler than this."
    )
    evaluated_at: datetime
    source: str = Field(description="criteria (evaluated now) or snapshot (static members)")

    @classmethod
    def of(cls, preview: Preview) -> PreviewOut:
        return cls(
            matching=preview.matching,
            reachable=preview.reachable,
            opted_out=preview.opted_out,
            sample=[SampleMemberOut.model_validate(member) for member in preview.sample],
            by_status=preview.by_status,
            by_label=preview.by_label,
            features_computed_at=preview.features_computed_at,
            evaluated_at=preview.evaluated_at,
            source=preview.source,
        )


class SnapshotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    snapshot_at: datetime
    members: int
    reachable: int
    entered: int
    left: int
    frozen: bool = Field(description="A static segment: its members were kept.")


class RefreshOut(BaseModel):
    via: str = Field(description="dagster (a run was queued) or local (refreshed in the request)")
    run_id: str | None
    detail: str
    snapshot: SnapshotOut | None = Field(description="The new counts, when refreshed here.")
    segment: SegmentOut

    @classmethod
    def of(cls, request: RefreshRequest, segment: SegmentSummary) -> RefreshOut:
        snapshot = request.snapshot
        return cls(
            via=request.via,
            run_id=request.run_id,
            detail=request.detail,
            snapshot=SnapshotOut.model_validate(snapshot) if snapshot else None,
            segment=SegmentOut.of(segment),
        )


class ResnapshotOut(BaseModel):
    snapshot: SnapshotOut
    segment: SegmentOut

    @classmethod
    def of(cls, snapshot: SnapshotResult, segment: SegmentSummary) -> ResnapshotOut:
        return cls(snapshot=SnapshotOut.model_validate(snapshot), segment=SegmentOut.of(segment))


class DeletedOut(BaseModel):
    name: str
    detached_campaigns: list[str] = Field(
        description="Draft or ended campaigns that named this segment and now name none."
    )


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    contact_id: uuid.UUID
    name: str
    phone: str = Field(description="E.164, masked (+62812•••••890) unless your role sees it.")
    phone_masked: bool
    labels: list[str]
    opted_out: bool
    snapshot_at: datetime


class MemberPageOut(BaseModel):
    items: list[MemberOut]
    total: int
    limit: int
    offset: int
    has_more: bool
    last_refreshed_at: datetime | None

    @classmethod
    def of(cls, page: MemberPage) -> MemberPageOut:
        return cls(
            items=[MemberOut.model_validate(item) for item in page.items],
            total=page.total,
            limit=page.limit,
            offset=page.offset,
            has_more=page.has_more,
            last_refreshed_at=page.last_refreshed_at,
        )


class HistoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    changed_at: datetime
    entered: int
    left: int

    @classmethod
    def of(cls, entry: MembershipHistoryEntry) -> HistoryOut:
        return cls.model_validate(entry)


class LabelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    color: str | None
    contact_count: int


class CustomFieldOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    type: str = Field(description="text, number, date or boolean: what most values are")
    contacts: int = Field(description="Sampled contacts with a value.")
    types: dict[str, int] = Field(description="Values per type (other: lists, objects).")
    choices: list[Any] = Field(description="The distinct values of a few-valued text field.")


class CustomFieldsOut(BaseModel):
    fields: list[CustomFieldOut]
    sampled: int = Field(description="Contacts read: the most recently updated ones.")
    sample_limit: int

    @classmethod
    def of(cls, found: FieldDiscovery) -> CustomFieldsOut:
        return cls(
            fields=[CustomFieldOut.model_validate(_field(f)) for f in found.fields],
            sampled=found.sampled,
            sample_limit=found.sample_limit,
        )


def _field(found: CustomField) -> dict[str, Any]:
    return {**found.__dict__, "choices": list(found.choices)}
