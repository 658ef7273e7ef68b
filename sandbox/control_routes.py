"""The sandbox's own control API under ``/_sandbox/``, kept apart from the Graph paths.

For demos, tests and benchmarks: read and change the configuration, add, generate, delete
templates and change their status (which emits the template status webhook), simulate a
customer writing in, list the messages the sandbox accepted and a per-second histogram of
them, inspect webhook delivery, and reset. Errors answer ``{"error": {"message": ...}}``.
No latency is applied here.
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import ValidationError

from sandbox.errors import GraphError
from sandbox.library import generated_templates
from sandbox.state import STATE, SandboxState
from sandbox.templates import STATUSES, TEMPLATE_FIELDS, TemplateInvalid
from sandbox.validation import recipient

MAX_GENERATE = 100_000


class ControlError(Exception):
    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


@web.middleware
async def control_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except ControlError as error:
        return _json({"error": {"message": str(error)}}, error.status)


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ControlError(f"the body is not valid JSON: {exc}", 400) from None
    if not isinstance(body, dict):
        raise ControlError("the body must be a JSON object", 400)
    return body


def _state(request: web.Request) -> SandboxState:
    return request.config_dict[STATE]


async def health(request: web.Request) -> web.Response:
    state = _state(request)
    return _json({"ok": True, "phone_number_id": state.config.phone_number_id})


async def get_config(request: web.Request) -> web.Response:
    return _json(_state(request).config.model_dump(mode="json"))


async def patch_config(request: web.Request) -> web.Response:
    state = _state(request)
    patch = await _body(request)
    try:
        config = state.config.merged(patch)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'config'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ControlError(f"invalid configuration: {problems}") from None
    state.config = config
    return _json(config.model_dump(mode="json"))


async def reset(request: web.Request) -> web.Response:
    _state(request).reset()
    return _json({"ok": True})


async def list_templates(request: web.Request) -> web.Response:
    templates = _state(request).templates.all()
    return _json(
        {"data": [t.to_graph(TEMPLATE_FIELDS) for t in templates], "count": len(templates)}
    )


async def add_templates(request: web.Request) -> web.Response:
    """One template definition, or ``{"templates": [...]}``; all or none are added."""
    state = _state(request)
    body = await _body(request)
    definitions = body.get("templates", [body])
    if not isinstance(definitions, list) or not definitions:
        raise ControlError("templates must be a non-empty list of template definitions")
    notify = body.get("notify", True) is not False
    added = []
    try:
        for definition in definitions:
            added.append(state.add_template(definition, notify=notify))
    except TemplateInvalid as exc:
        for template in added:
            state.templates.remove(template.id)
        raise ControlError(f"template {len(added) + 1}: {exc}") from None
    return _json(
        {"data": [{"id": t.id, "name": t.name, "language": t.language} for t in added]}, 201
    )


async def generate_templates(request: web.Request) -> web.Response:
    """``{"count": N, "status": "APPROVED", "prefix": "bench", "language": "id"}``, no webhooks."""
    state = _state(request)
    body = await _body(request)
    count = body.get("count")
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_GENERATE:
        raise ControlError(f"count must be an integer from 1 to {MAX_GENERATE}")
    status = str(body.get("status", "APPROVED")).upper()
    prefix = str(body.get("prefix", "generated"))
    language = str(body.get("language", "id"))
    if status not in STATUSES:
        raise ControlError(f"status must be one of {', '.join(STATUSES)}")
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,40}", prefix):
        raise ControlError("prefix must be lowercase letters, digits and underscores")
    start = 1
    while state.templates.has_name(f"{prefix}_{start:06d}"):
        start += count
    try:
        definitions = generated_templates(
            count, prefix=prefix, start=start, status=status, language=language
        )
        for definition in definitions:
            state.add_template(definition, notify=False)
    except TemplateInvalid as exc:
        raise ControlError(str(exc)) from None
    return _json({"created": count, "total": len(state.templates)}, 201)


def _template(request: web.Request) -> Any:
    template = _state(request).templates.by_id(request.match_info["template_id"])
    if template is None:
        raise ControlError(f"no template with id {request.match_info['template_id']}", 404)
    return template


async def set_template_status(request: web.Request) -> web.Response:
    """``{"status": "PAUSED", "reason": "..."}``: emits ``message_template_status_update``."""
    template = _template(request)
    body = await _body(request)
    status = str(body.get("status", "")).upper()
    if status not in STATUSES:
        raise ControlError(f"status must be one of {', '.join(STATUSES)}")
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise ControlError("reason must be text")
    _state(request).set_template_status(template, status, reason)
    return _json(template.to_graph(["name", "language", "status", "category"]))


async def delete_template(request: web.Request) -> web.Response:
    template = _template(request)
    _state(request).templates.remove(template.id)
    return _json({"deleted": template.id})


async def inbound(request: web.Request) -> web.Response:
    """A customer writes in: ``{"from", "text"}`` or ``{"from", "button": {"text", "payload"}}``.

    Optional ``context_id`` (a wamid the sandbox sent) and ``name`` (the profile name).
    """
    state = _state(request)
    body = await _body(request)
    try:
        wa_id = recipient(body.get("from"), state.config.display_digits)
    except GraphError as exc:
        raise ControlError(f"from: {exc.details or exc.message}") from None
    text, button = body.get("text"), body.get("button")
    if (text is None) == (button is None):
        raise ControlError("give exactly one of text or button")
    if text is not None and (not isinstance(text, str) or not text.strip()):
        raise ControlError("text must be non-empty")
    pair = None
    if button is not None:
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            raise ControlError('button must be {"text": ..., "payload": ...}')
        pair = (button["text"], str(button.get("payload", button["text"])))
    context_id = body.get("context_id")
    if context_id is not None and context_id not in state.by_id:
        raise ControlError(f"context_id {context_id!r} is not a message the sandbox sent", 404)
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise ControlError("name must be text")
    message_id = state.simulate_inbound(
        wa_id, text=text, button=pair, context_id=context_id, name=name
    )
    return _json({"id": message_id, "wa_id": wa_id}, 201)


async def messages(request: web.Request) -> web.Response:
    """Accepted messages, oldest first; ``?after_seq=``, ``?to=`` (digits), ``?limit=``."""
    state = _state(request)
    query = request.query
    try:
        after_seq = int(query.get("after_seq", "0"))
        limit = min(int(query.get("limit", "1000")), 10_000)
    except ValueError:
        raise ControlError("after_seq and limit must be integers", 400) from None
    to = query.get("to")
    chosen = []
    for record in state.messages:
        if record.seq <= after_seq or (to is not None and record.wa_id != to.lstrip("+")):
            continue
        chosen.append(record.to_json())
        if len(chosen) >= limit:
            break
    return _json({"data": chosen, "total": state.counters["accepted"]})


async def throughput(request: web.Request) -> web.Response:
    """Accepted sends per wall-clock second, and how many sends the limits refused."""
    state = _state(request)
    counts = state.histogram.snapshot()
    return _json(
        {
            "limit_per_second": state.config.throughput_per_second,
            "max_per_second": max(counts.values(), default=0),
            "per_second": [{"second": s, "count": c} for s, c in sorted(counts.items())],
            **state.counters,
        }
    )


async def webhooks(request: web.Request) -> web.Response:
    state = _state(request)
    stats = state.emitter.stats
    return _json(
        {
            "url": state.config.webhooks.url,
            "pending": state.emitter.pending,
            "scheduled_events": stats.scheduled_events,
            "delivered_posts": stats.delivered_posts,
            "delivered_events": stats.delivered_events,
            "failed_attempts": stats.failed_attempts,
            "retries": stats.retries,
            "dead_letters": stats.dead_letters,
            "dropped_events": stats.dropped_events,
            "recent": list(stats.recent),
        }
    )


async def dead_letters(request: web.Request) -> web.Response:
    return _json({"data": list(_state(request).emitter.dead_letters)})


async def verify_webhook(request: web.Request) -> web.Response:
    """Meta's subscription handshake against the configured URL: GET with hub.* parameters."""
    config = _state(request).config
    if config.webhooks.url is None:
        raise ControlError("no webhook URL is configured")
    challenge = str(secrets.randbelow(10**9))
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": config.verify_token,
        "hub.challenge": challenge,
    }
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(
                config.webhooks.url, params=params, timeout=aiohttp.ClientTimeout(total=10)
            ) as response,
        ):
            text = await response.text()
            status = response.status
    except (TimeoutError, aiohttp.ClientError) as exc:
        return _json({"verified": False, "error": f"{type(exc).__name__}: {exc}"})
    verified = status == 200 and text.strip() == challenge
    return _json({"verified": verified, "status": status, "body": text[:200]})


async def media(request: web.Request) -> web.Response:
    items = _state(request).media.values()
    return _json(
        {
            "data": [
                {
                    "id": item.id,
                    "type": item.kind,
                    "mime_type": item.mime_type,
                    "file_size": item.file_size,
                    "sha256": item.sha256,
                    "filename": item.filename,
                }
                for item in items
            ]
        }
    )


def control_app() -> web.Application:
    """The ``/_sandbox`` sub-application (shares the parent's state)."""
    app = web.Application(middlewares=[control_errors])
    app.router.add_get("/health", health)
    app.router.add_get("/config", get_config)
    app.router.add_patch("/config", patch_config)
    app.router.add_post("/config", patch_config)
    app.router.add_post("/reset", reset)
    app.router.add_get("/templates", list_templates)
    app.router.add_post("/templates", add_templates)
    app.router.add_post("/templates/generate", generate_templates)
    app.router.add_post("/templates/{template_id}/status", set_template_status)
    app.router.add_delete("/templates/{template_id}", delete_template)
    app.router.add_post("/inbound", inbound)
    app.router.add_get("/messages", messages)
    app.router.add_get("/throughput", throughput)
    app.router.add_get("/webhooks", webhooks)
    app.router.add_get("/webhooks/dead_letters", dead_letters)
    app.router.add_post("/webhooks/verify", verify_webhook)
    app.router.add_get("/media", media)
    return app
