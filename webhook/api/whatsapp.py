"""The WhatsApp account (connect, test, disconnect) and its message templates (sync, preview).

Owners connect and change the account and sync templates; supervisors read the account
summary and templates and may preview them; agents get 403. Secrets never leave: the
summary shows only the last four characters of the access and verify tokens.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from core import whatsapp
from core.errors import NotFound
from core.templates import RenderedTemplate
from core.whatsapp import AccountCredentials
from webhook.deps import App, CurrentActor, DbSession

router = APIRouter(prefix="/api/whatsapp", tags=["whatsapp"])


class AccountOut(BaseModel):
    """The connected number as WhatsApp last described it; no secret, only hints."""

    id: uuid.UUID
    name: str
    waba_id: str
    phone_number_id: str
    display_phone_number: str | None
    verified_name: str | None
    quality_rating: str | None = Field(description="GREEN, YELLOW, RED or UNKNOWN.")
    throughput_level: str | None = Field(description="STANDARD (80 msg/s) or HIGH.")
    throughput_per_second: int
    messaging_limit_tier: str | None = Field(description="e.g. TIER_2K: unique users per 24 h.")
    api_base_url: str
    api_version: str
    is_sandbox: bool
    is_active: bool
    access_token: str = Field(description="Masked: its last four characters only.")
    verify_token_hint: str = Field(description="Masked: its last four characters only.")
    webhook_url: str = Field(description="The callback URL to paste into Meta's app settings.")
    connected_at: datetime
    last_checked_at: datetime | None


class TemplateVariableOut(BaseModel):
    key: str = Field(description="What a preview or campaign maps a value to, e.g. body.1.")
    component: str
    name: str
    kind: str = Field(description="text, or image/document/video for a media header.")
    example: str | None
    button_index: int | None = None


class TemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    meta_template_id: str | None
    name: str
    language: str
    category: str
    status: str
    parameter_format: str
    quality_score: str | None
    rejected_reason: str | None
    variables: list[TemplateVariableOut]
    last_synced_at: datetime | None
    removed_at: datetime | None = Field(description="Set when the template left WhatsApp.")


class TemplateDetailOut(TemplateOut):
    components: list[dict[str, Any]] = Field(description="As WhatsApp holds them.")


class SyncReportOut(BaseModel):
    fetched: int
    created: int
    updated: int
    removed: int
    seconds: float
    summary: str


class PreviewIn(BaseModel):
    variables: dict[str, str] | None = Field(
        default=None,
        description="Values by variable key; leave out to preview with WhatsApp's examples.",
        examples=[{"body.1": "Budi", "body.2": "20%"}],
    )


class RenderedOut(BaseModel):
    header: str | None
    header_media: dict[str, str] | None
    body: str
    footer: str | None
    buttons: list[dict[str, str]]
    text: str = Field(description="Header, body and footer as one text.")

    @classmethod
    def of(cls, rendered: RenderedTemplate) -> RenderedOut:
        return cls(
            header=rendered.header,
            header_media=rendered.header_media,
            body=rendered.body,
            footer=rendered.footer,
            buttons=rendered.buttons,
            text=rendered.as_text(),
        )


class PreviewOut(BaseModel):
    template_id: uuid.UUID
    variables: dict[str, str] = Field(description="The values used (given or examples).")
    rendered: RenderedOut


def _account_out(app: App, account: Any) -> AccountOut:
    summary = whatsapp.account_summary(account, app.secrets)
    return AccountOut(**summary, webhook_url=whatsapp.webhook_callback_url(app.settings))


# --- account ---------------------------------------------------------------------------------


@router.get("/account", summary="The connected WhatsApp account (owners and supervisors)")
def get_account(session: DbSession, actor: CurrentActor, app: App) -> AccountOut:
    account = whatsapp.get_account(session, actor)
    if account is None:
        raise NotFound("No WhatsApp account is connected; an owner connects one.")
    return _account_out(app, account)


@router.put("/account", summary="Connect or replace the WhatsApp account (owners)")
def connect_account(
    body: AccountCredentials, session: DbSession, actor: CurrentActor, app: App
) -> AccountOut:
    """WhatsApp is asked first: wrong credentials are refused (422) and nothing is stored."""
    account = whatsapp.connect_account(session, actor, app.secrets, body)
    session.commit()
    return _account_out(app, account)


@router.post("/account/check", summary="Test the connection; refreshes quality and limits")
def check_account(session: DbSession, actor: CurrentActor, app: App) -> AccountOut:
    account = whatsapp.check_connection(session, actor, app.secrets)
    session.commit()
    return _account_out(app, account)


@router.delete(
    "/account",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Disconnect the WhatsApp account (owners); templates stay for the record",
)
def disconnect_account(session: DbSession, actor: CurrentActor) -> Response:
    whatsapp.disconnect_account(session, actor)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- templates -------------------------------------------------------------------------------


@router.get("/templates", summary="The connected account's message templates, by name")
def list_templates(
    session: DbSession,
    actor: CurrentActor,
    status: Annotated[
        str | None, Query(max_length=20, description=", ".join(whatsapp.TEMPLATE_STATUSES))
    ] = None,
    category: Annotated[
        str | None, Query(max_length=20, description=", ".join(whatsapp.TEMPLATE_CATEGORIES))
    ] = None,
    language: Annotated[str | None, Query(max_length=16, examples=["id"])] = None,
    search: Annotated[str | None, Query(max_length=200, description="Part of the name.")] = None,
    include_removed: Annotated[
        bool, Query(description="Also templates that are no longer on WhatsApp.")
    ] = False,
) -> list[TemplateOut]:
    templates = whatsapp.list_templates(
        session,
        actor,
        status=status,
        category=category,
        language=language,
        search=search,
        include_removed=include_removed,
    )
    return [TemplateOut.model_validate(t) for t in templates]


@router.post("/templates/sync", summary="Pull every template from WhatsApp (owners)")
def sync_templates(session: DbSession, actor: CurrentActor, app: App) -> SyncReportOut:
    report = whatsapp.sync_templates(session, actor, app.secrets)
    session.commit()
    return SyncReportOut(
        fetched=report.fetched,
        created=report.created,
        updated=report.updated,
        removed=report.removed,
        seconds=round(report.seconds, 3),
        summary=str(report),
    )


@router.get("/templates/{template_id}", summary="One template with its components")
def get_template(
    template_id: uuid.UUID, session: DbSession, actor: CurrentActor
) -> TemplateDetailOut:
    return TemplateDetailOut.model_validate(whatsapp.get_template(session, actor, template_id))


@router.post(
    "/templates/{template_id}/preview",
    summary="Render a template with given values or WhatsApp's examples",
)
def preview_template(
    template_id: uuid.UUID,
    session: DbSession,
    actor: CurrentActor,
    body: PreviewIn | None = None,
) -> PreviewOut:
    """Missing, unknown, badly formed or over-long values: 422, each named in ``errors``."""
    values = body.variables if body is not None else None
    template, rendered, used = whatsapp.preview_template(session, actor, template_id, values)
    return PreviewOut(template_id=template.id, variables=used, rendered=RenderedOut.of(rendered))
