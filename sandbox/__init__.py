"""A local server that behaves like Meta's WhatsApp Cloud API for everything Siaran uses.

Same paths, Bearer auth, validation, responses and errors as the Graph API; throughput and
pair-rate limits; configurable latency and outcomes; signed webhooks (statuses, replies,
opt-outs, template status changes) with duplicates, reordering and retries. See docs/sandbox.md.
"""

from sandbox.config import OutcomeMix, SandboxConfig, Timing, WebhookSettings
from sandbox.emitter import signature
from sandbox.server import SandboxServer, ThreadedServer, create_app, serve

__all__ = [
    "OutcomeMix",
    "SandboxConfig",
    "SandboxServer",
    "ThreadedServer",
    "Timing",
    "WebhookSettings",
    "create_app",
    "serve",
    "signature",
]
