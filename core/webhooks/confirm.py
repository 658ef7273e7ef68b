"""The optional answer to an opt-out or opt-in keyword (``SIARAN_OPT_OUT_CONFIRMATION``).

Sent as free-form text through the connected account: the customer has just written, so
their 24-hour service window is open and no template is needed. Off by default.
"""

from __future__ import annotations

from core.bootstrap import Siaran
from core.optouts import SOURCE_META, ConsentChange
from core.phones import wa_digits
from core.whatsapp import active_account, client_for, run_async
from sender.models import SendResult

CALLBACK = "siaran-consent-confirmation"


def confirmation_text(siaran: Siaran, change: ConsentChange) -> str | None:
    """What to answer, or None (Meta's own stop/resume is not a message to answer)."""
    if change.source == SOURCE_META:
        return None
    settings = siaran.settings
    return (
        settings.opt_out_confirmation_text if change.opt_out else settings.opt_in_confirmation_text
    )


def send_confirmation(siaran: Siaran, change: ConsentChange) -> SendResult | None:
    text = confirmation_text(siaran, change)
    if text is None:
        return None
    with siaran.uow.session() as session:
        account = active_account(session)
    if account is None:
        return None
    client = client_for(account, siaran.secrets)

    async def send() -> SendResult:
        async with client:
            return await client.send_text(
                wa_digits(change.phone), text, biz_opaque_callback_data=CALLBACK
            )

    return run_async(send())
