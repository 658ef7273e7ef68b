"""Contacts of the CRM: a searchable, paginated list and one contact in full."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from core import contact_search, contacts
from webhook.deps import CurrentActor, DbSession

router = APIRouter(prefix="/api/contacts", tags=["contacts"])


class ContactOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    phone: str = Field(description="E.164, masked (+62812•••••890) unless your role sees it.")
    phone_masked: bool
    labels: list[str]
    timezone: str | None
    custom_fields: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class ContactPageOut(BaseModel):
    items: list[ContactOut]
    total: int = Field(description="How many contacts match the filters in all.")
    limit: int
    offset: int
    has_more: bool


class ContactDetailOut(ContactOut):
    conversation_count: int
    message_count: int
    last_message_at: datetime | None
    average_rating: float | None
    opted_out: bool | None = Field(description="null when your role may not see opt-outs.")


@router.get("", summary="Search contacts by name or phone, filter by labels")
def list_contacts(
    session: DbSession,
    actor: CurrentActor,
    search: Annotated[
        str,
        Query(
            max_length=contact_search.MAX_QUERY_LENGTH,
            description="Part of the name; or of the phone number if your role sees numbers.",
        ),
    ] = "",
    label: Annotated[
        list[str], Query(description="Repeat for several labels; see match_all_labels.")
    ] = [],  # noqa: B006 - FastAPI copies defaults per request
    match_all_labels: Annotated[
        bool, Query(description="Contacts must carry every label, not just one.")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=contact_search.MAX_PAGE_SIZE)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ContactPageOut:
    """Most recently changed first."""
    page = contact_search.search_contacts(
        session,
        actor,
        query=search,
        labels=label,
        match_all_labels=match_all_labels,
        limit=limit,
        offset=offset,
    )
    return ContactPageOut(
        items=[ContactOut.model_validate(view) for view in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        has_more=page.has_more,
    )


@router.get("/{contact_id}", summary="One contact with its conversation history summed up")
def get_contact(contact_id: uuid.UUID, session: DbSession, actor: CurrentActor) -> ContactDetailOut:
    detail = contacts.get_contact(session, actor, contact_id)
    return ContactDetailOut(
        **ContactOut.model_validate(detail.contact).model_dump(),
        conversation_count=detail.conversation_count,
        message_count=detail.message_count,
        last_message_at=detail.last_message_at,
        average_rating=detail.average_rating,
        opted_out=detail.opted_out,
    )
