"""The WhatsApp connection: the business account, its phone number and its templates.

Owners connect one WhatsApp Business Account (or the sandbox); its access token, app secret
and webhook verify token are encrypted at rest. Template sync pulls every page of the
WABA's templates, upserts them and marks the ones that disappeared.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core import audit
from core.errors import InvalidInput, NotFound
from core.permissions import Actor, Permission, require
from core.security import SecretBox
from core.settings import Settings
from core.templates import RenderedTemplate, extract_variables, render, sample_values
from sender.cloud_api import DEFAULT_API_VERSION, DEFAULT_BASE_URL, CloudApiClient
from sender.errors import CloudApiError, NetworkError
from sender.models import MessageTemplate, PhoneNumberInfo
from sql.schema import WhatsAppAccount, WhatsAppTemplate
from sql.types import utcnow

T = TypeVar("T")
ClientFactory = Callable[[WhatsAppAccount, SecretBox], CloudApiClient]
TEMPLATE_STATUSES = ("APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED", "IN_APPEAL")
TEMPLATE_CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
MANAGER_URL = "https://business.facebook.com/wa/manage/message-templates/"


class AccountCredentials(BaseModel):
    """What an owner enters to connect a WhatsApp Business Account."""

    name: str = Field(min_length=1, max_length=200)
    waba_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    phone_number_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    access_token: str = Field(min_length=8)
    app_secret: str = Field(min_length=8)
    verify_token: str = Field(min_length=8)
    api_base_url: str = DEFAULT_BASE_URL
    api_version: str = Field(default=DEFAULT_API_VERSION, pattern=r"^v\d+\.\d+$")
    is_sandbox: bool = False

    # Before the length checks, so eight spaces are not a token.
    @field_validator(
        "name", "waba_id", "phone_number_id", "access_token", "app_secret", "verify_token",
        "api_base_url", "api_version", mode="before",
    )  # fmt: skip
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("api_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an https:// (or http://) address such as " + DEFAULT_BASE_URL)
        return value.rstrip("/")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from synchronous code, even when the caller's thread has a loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def client_for(account: WhatsAppAccount, secrets: SecretBox) -> CloudApiClient:
    return CloudApiClient(
        account.api_base_url,
        secrets.decrypt(account.access_token_encrypted),
        account.phone_number_id,
        account.waba_id,
        account.api_version,
        max_connections=32,
    )


def _refused(exc: CloudApiError, field: str, base_url: str) -> InvalidInput:
    """Why WhatsApp said no, pinned to the credential an owner should look at."""
    if isinstance(exc, NetworkError):
        cause = exc.__cause__
        reason = f"{type(cause).__name__}: {cause}" if cause else exc.message
        message = f"Siaran could not reach WhatsApp at {base_url} ({reason})."
        return InvalidInput(message, [{"path": "api_base_url", "message": message}])
    if exc.code in (0, 190) or exc.http_status == 401:
        field = "access_token"
    elif exc.code == 2500:  # unknown path components: the address or version is wrong
        field = "api_base_url"
    elif exc.code in (3, 10) or (exc.code is not None and 200 <= exc.code <= 299):
        field = "access_token"  # the token lacks a permission
    return InvalidInput(
        f"WhatsApp refused the connection: {exc}", [{"path": field, "message": str(exc)}]
    )


async def _probe(client: CloudApiClient) -> PhoneNumberInfo:
    """Read the phone number, then one template of the WABA: both ids and the token work."""
    async with client:
        try:
            info = await client.get_phone_number_info()
        except CloudApiError as exc:
            raise _refused(exc, "phone_number_id", client.base_url) from None
        try:
            async with contextlib.aclosing(client.list_templates(limit=1)) as templates:
                await anext(aiter(templates), None)
        except CloudApiError as exc:
            raise _refused(exc, "waba_id", client.base_url) from None
        return info


def _apply_info(account: WhatsAppAccount, info: PhoneNumberInfo) -> None:
    account.display_phone_number = info.display_phone_number
    account.verified_name = info.verified_name
    account.quality_rating = info.quality_rating
    account.throughput_level = info.throughput_level
    account.messaging_limit_tier = info.messaging_limit_tier
    account.throughput_per_second = info.messages_per_second or 80
    account.last_checked_at = utcnow()


def connect_account(
    session: Session,
    actor: Actor,
    secrets: SecretBox,
    credentials: AccountCredentials,
    *,
    client_factory: ClientFactory = client_for,
) -> WhatsAppAccount:
    """Check the credentials against WhatsApp, then store them (encrypted) as the account."""
    require(actor, Permission.ACCOUNT_MANAGE)
    account = session.scalar(
        select(WhatsAppAccount).where(
            WhatsAppAccount.phone_number_id == credentials.phone_number_id
        )
    )
    created = account is None
    if account is None:
        account = WhatsAppAccount(phone_number_id=credentials.phone_number_id)
    account.name = credentials.name
    account.waba_id = credentials.waba_id
    account.api_base_url = credentials.api_base_url.rstrip("/")
    account.api_version = credentials.api_version
    account.is_sandbox = credentials.is_sandbox
    account.access_token_encrypted = secrets.encrypt(credentials.access_token)
    account.app_secret_encrypted = secrets.encrypt(credentials.app_secret)
    account.verify_token_encrypted = secrets.encrypt(credentials.verify_token)
    info = run_async(_probe(client_factory(account, secrets)))
    _apply_info(account, info)
    account.is_active = True
    account.connected_at = utcnow()
    if created:
        session.add(account)
    session.flush()
    # One account sends at a time: connecting a number makes it the active one.
    for other in session.scalars(
        select(WhatsAppAccount).where(WhatsAppAccount.id != account.id, WhatsAppAccount.is_active)
    ):
        other.is_active = False
    audit.record(
        session,
        actor,
        "whatsapp_account.connect",
        "whatsapp_account",
        account.id,
        {
            "phone_number_id": account.phone_number_id,
            "waba_id": account.waba_id,
            "sandbox": account.is_sandbox,
            "display_phone_number": account.display_phone_number,
        },
    )
    return account


def active_account(session: Session) -> WhatsAppAccount | None:
    return session.scalar(
        select(WhatsAppAccount)
        .where(WhatsAppAccount.is_active)
        .order_by(WhatsAppAccount.connected_at.desc())
    )


def get_account(session: Session, actor: Actor) -> WhatsAppAccount | None:
    require(actor, Permission.ACCOUNT_READ)
    return active_account(session)


def _require_account(session: Session) -> WhatsAppAccount:
    account = active_account(session)
    if account is None:
        raise NotFound("No WhatsApp account is connected; connect one in WhatsApp account.")
    return account


def check_connection(
    session: Session,
    actor: Actor,
    secrets: SecretBox,
    *,
    client_factory: ClientFactory = client_for,
) -> WhatsAppAccount:
    """Re-read the number's quality, throughput and messaging limit from WhatsApp."""
    require(actor, Permission.ACCOUNT_MANAGE)
    account = _require_account(session)
    info = run_async(_probe(client_factory(account, secrets)))
    _apply_info(account, info)
    audit.record(
        session, actor, "whatsapp_account.check", "whatsapp_account", account.id,
        {"quality_rating": account.quality_rating, "tier": account.messaging_limit_tier},
    )  # fmt: skip
    return account


def disconnect_account(session: Session, actor: Actor) -> WhatsAppAccount:
    require(actor, Permission.ACCOUNT_MANAGE)
    account = _require_account(session)
    account.is_active = False
    audit.record(session, actor, "whatsapp_account.disconnect", "whatsapp_account", account.id)
    return account


def account_summary(account: WhatsAppAccount, secrets: SecretBox) -> dict[str, Any]:
    """What the app and API show about the account: never a secret, only its last digits."""
    token = secrets.decrypt(account.access_token_encrypted)
    verify_token = secrets.decrypt(account.verify_token_encrypted)
    return {
        "id": str(account.id),
        "name": account.name,
        "waba_id": account.waba_id,
        "phone_number_id": account.phone_number_id,
        "display_phone_number": account.display_phone_number,
        "verified_name": account.verified_name,
        "quality_rating": account.quality_rating,
        "throughput_level": account.throughput_level,
        "throughput_per_second": account.throughput_per_second,
        "messaging_limit_tier": account.messaging_limit_tier,
        "api_base_url": account.api_base_url,
        "api_version": account.api_version,
        "is_sandbox": account.is_sandbox,
        "access_token": "••••" + token[-4:],
        "verify_token_hint": "••••" + verify_token[-4:],
        "is_active": account.is_active,
        "connected_at": account.connected_at.isoformat(),
        "last_checked_at": account.last_checked_at.isoformat() if account.last_checked_at else None,
    }


def webhook_callback_url(settings: Settings) -> str:
    """Where Meta must POST webhooks: the HTTP server's ``/webhook`` (paste into Meta's app)."""
    return f"http://{settings.api_host}:{settings.api_port}/webhook"


# --- templates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncReport:
    fetched: int
    created: int
    updated: int
    removed: int
    seconds: float

    def __str__(self) -> str:
        return (
            f"{self.fetched} templates synced in {self.seconds:.1f} s: {self.created} new, "
            f"{self.updated} changed, {self.removed} no longer on WhatsApp"
        )


async def _fetch_templates(client: CloudApiClient) -> list[MessageTemplate]:
    async with client:
        return [template async for template in client.list_templates(limit=100)]


def sync_templates(
    session: Session,
    actor: Actor,
    secrets: SecretBox,
    *,
    client_factory: ClientFactory = client_for,
) -> SyncReport:
    """Pull every template page from WhatsApp and upsert ``whatsapp_templates``."""
    require(actor, Permission.TEMPLATE_WRITE)
    account = _require_account(session)
    started = time.perf_counter()
    try:
        fetched = run_async(_fetch_templates(client_factory(account, secrets)))
    except CloudApiError as exc:
        raise InvalidInput(f"Template sync failed: {exc}") from None
    now = utcnow()
    existing = {
        (t.name, t.language): t
        for t in session.scalars(
            select(WhatsAppTemplate).where(WhatsAppTemplate.account_id == account.id)
        )
    }
    created = updated = 0
    seen: set[tuple[str, str]] = set()
    for remote in fetched:
        key = (remote.name, remote.language)
        seen.add(key)
        row = existing.get(key)
        if row is None:
            row = WhatsAppTemplate(
                account_id=account.id, name=remote.name, language=remote.language
            )
            session.add(row)
            created += 1
        elif _changed(row, remote):
            updated += 1
        _apply_template(row, remote, now)
    removed = 0
    for key, row in existing.items():
        if key not in seen and row.removed_at is None:
            row.removed_at = now
            removed += 1
    report = SyncReport(len(fetched), created, updated, removed, time.perf_counter() - started)
    audit.record(
        session, actor, "whatsapp_template.sync", "whatsapp_account", account.id,
        {"fetched": report.fetched, "created": created, "updated": updated, "removed": removed},
    )  # fmt: skip
    return report


def _changed(row: WhatsAppTemplate, remote: MessageTemplate) -> bool:
    return (
        row.status != remote.status
        or row.category != (remote.category or "")
        or row.components != remote.components
        or row.parameter_format != remote.parameter_format.upper()
        or row.meta_template_id != remote.id
        or row.rejected_reason != remote.raw.get("rejected_reason")
        or row.quality_score != (remote.raw.get("quality_score") or {}).get("score")
        or row.removed_at is not None
    )


def _apply_template(row: WhatsAppTemplate, remote: MessageTemplate, now: Any) -> None:
    row.meta_template_id = remote.id
    row.status = remote.status
    row.category = remote.category or ""
    row.components = remote.components
    row.parameter_format = remote.parameter_format.upper()
    row.variables = [asdict(v) | {"key": v.key} for v in extract_variables(remote.components)]
    row.rejected_reason = remote.raw.get("rejected_reason")
    row.quality_score = (remote.raw.get("quality_score") or {}).get("score")
    row.last_synced_at = now
    row.removed_at = None


def list_templates(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    category: str | None = None,
    language: str | None = None,
    search: str | None = None,
    include_removed: bool = False,
) -> list[WhatsAppTemplate]:
    require(actor, Permission.TEMPLATE_READ)
    _check_choice("status", status, TEMPLATE_STATUSES)
    _check_choice("category", category, TEMPLATE_CATEGORIES)
    query = select(WhatsAppTemplate).order_by(WhatsAppTemplate.name, WhatsAppTemplate.language)
    account = active_account(session)
    if account is not None:
        query = query.where(
            or_(WhatsAppTemplate.account_id == account.id, WhatsAppTemplate.account_id.is_(None))
        )
    if status:
        query = query.where(WhatsAppTemplate.status == status.upper())
    if category:
        query = query.where(WhatsAppTemplate.category == category.upper())
    if language:
        query = query.where(WhatsAppTemplate.language == language)
    if search:
        query = query.where(func.lower(WhatsAppTemplate.name).contains(search.lower().strip()))
    if not include_removed:
        query = query.where(WhatsAppTemplate.removed_at.is_(None))
    return list(session.scalars(query))


def _check_choice(name: str, value: str | None, choices: tuple[str, ...]) -> None:
    if value and value.upper() not in choices:
        message = f"must be one of {', '.join(choices)}"
        raise InvalidInput(f"Unknown template {name} {value!r}: {message}.",
                           [{"path": name, "message": message}])  # fmt: skip


def get_template(session: Session, actor: Actor, template_id: uuid.UUID) -> WhatsAppTemplate:
    require(actor, Permission.TEMPLATE_READ)
    template = session.get(WhatsAppTemplate, template_id)
    if template is None:
        raise NotFound(f"Template {template_id} does not exist.")
    return template


def preview_template(
    session: Session,
    actor: Actor,
    template_id: uuid.UUID,
    values: dict[str, str] | None = None,
) -> tuple[WhatsAppTemplate, RenderedTemplate, dict[str, str]]:
    """Render a template with the given values, or Meta's examples when none are given."""
    template = get_template(session, actor, template_id)
    used = dict(values) if values is not None else sample_values(template.components)
    return template, render(template.components, used), used
