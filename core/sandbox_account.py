"""The bundled WhatsApp sandbox as the demo's account: connected and synced on first start.

``siaran up`` starts the sandbox when no real account is connected; ``connect_sandbox_if_
unconnected`` then makes it the active account (as Siaran's system user, audited) and syncs
its templates, so a fresh demo shows templates at once. The sandbox's identity (ids, token,
app secret, verify token) is its demo default, ``sandbox.config.SandboxConfig()``.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from core.audit import record
from core.bootstrap import Siaran
from core.errors import InvalidInput
from core.permissions import SYSTEM_ACTOR, Actor, Permission, require
from core.phones import normalize_phone
from core.whatsapp import (
    AccountCredentials,
    SyncReport,
    active_account,
    connect_account,
    sync_templates,
)


@dataclass(frozen=True)
class SandboxSetup:
    """What ``connect_sandbox_if_unconnected`` did, in one line for the console."""

    display_phone_number: str | None
    verified_name: str | None
    sync: SyncReport

    def __str__(self) -> str:
        who = " ".join(p for p in (self.verified_name, self.display_phone_number) if p)
        return f"WhatsApp sandbox account connected ({who}); {self.sync}"


def sandbox_credentials(url: str) -> AccountCredentials:
    """The credentials of a sandbox started with its default identity, served at ``url``."""
    from sandbox.config import SandboxConfig  # only the demo path needs the sandbox package

    config = SandboxConfig()
    return AccountCredentials(
        name=f"{config.verified_name} (sandbox)",
        waba_id=config.waba_id,
        phone_number_id=config.phone_number_id,
        access_token=config.access_token,
        app_secret=config.app_secret,
        verify_token=config.verify_token,
        api_base_url=url,
        is_sandbox=True,
    )


def connect_sandbox_if_unconnected(siaran: Siaran, url: str) -> SandboxSetup | None:
    """Connect the sandbox at ``url`` and sync its templates, unless an account is connected.

    A sandbox account left from an earlier start at another address is re-pointed (the
    sandbox port is a setting). Returns None when there was nothing to do.
    """
    credentials = sandbox_credentials(url)
    with siaran.uow.session() as session:
        current = active_account(session)
        if current is not None and not (
            current.is_sandbox and current.api_base_url != credentials.api_base_url
        ):
            return None
    # Two transactions: the account stays connected even if the template sync fails.
    with siaran.uow.begin() as session:
        account = connect_account(session, SYSTEM_ACTOR, siaran.secrets, credentials)
        number, name = account.display_phone_number, account.verified_name
    with siaran.uow.begin() as session:
        report = sync_templates(session, SYSTEM_ACTOR, siaran.secrets)
    return SandboxSetup(number, name, report)


#: Longest customer message the sandbox form takes (WhatsApp's own limit is 4,096).
MAX_SIMULATED_TEXT = 4096


def simulate_customer_message(siaran: Siaran, actor: Actor, phone: str, text: str) -> str:
    """Have the sandbox deliver ``text`` from customer ``phone``, as WhatsApp would.

    The sandbox sends the signed webhook to the server like any customer message: a reply
    is attributed to the campaign that reached the number last, "STOP"/"BERHENTI" opts the
    customer out. Only for a connected sandbox; returns the inbound message id.
    """
    require(actor, Permission.ACCOUNT_MANAGE)
    number = normalize_phone(phone, siaran.settings.default_region)
    body = text.strip()
    if not body:
        raise InvalidInput("Write the customer's message.")
    if len(body) > MAX_SIMULATED_TEXT:
        raise InvalidInput(f"A WhatsApp message has at most {MAX_SIMULATED_TEXT:,} characters.")
    with siaran.uow.session() as session:
        account = active_account(session)
        if account is None or not account.is_sandbox:
            raise InvalidInput(
                "Customer messages can only be simulated with the sandbox connected; real "
                "customers write to your real number."
            )
        account_id, base_url = account.id, account.api_base_url.rstrip("/")
    try:
        answer = httpx.post(
            f"{base_url}/_sandbox/inbound", json={"from": number, "text": body}, timeout=10
        )
    except httpx.HTTPError as exc:
        raise InvalidInput(f"The sandbox at {base_url} did not answer ({exc}).") from None
    if answer.status_code != 201:
        raise InvalidInput(f"The sandbox refused the message: {_sandbox_error(answer)}")
    message_id = str(answer.json()["id"])
    with siaran.uow.begin() as session:
        record(session, actor, "sandbox.simulate_inbound", "whatsapp_account", account_id,
               {"phone": number, "text": body[:200], "message_id": message_id})  # fmt: skip
    return message_id


def _sandbox_error(answer: httpx.Response) -> str:
    try:
        return str(answer.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {answer.status_code}"
