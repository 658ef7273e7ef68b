"""Throughput (130429), the pair rate limit (131056) and the 24-hour window (131047)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from tests.sandbox.helpers import MESSAGES, TOKEN, client_for, graph_error, text_message


async def _burst(url: str, payloads: list[dict[str, Any]]) -> list[httpx.Response]:
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    ) as client:
        return await asyncio.gather(*(client.post(MESSAGES, json=p) for p in payloads))


def test_throughput_above_the_rate_is_130429(make_sandbox: Any) -> None:
    server = make_sandbox(throughput_per_second=5, enforce_service_window=False)
    payloads = [text_message(to=f"62812000011{n:02d}") for n in range(12)]
    responses = asyncio.run(_burst(server.url, payloads))
    accepted = [r for r in responses if r.status_code == 200]
    limited = [r for r in responses if r.status_code != 200]
    assert len(accepted) == 5
    assert len(limited) == 7
    for response in limited:
        assert response.status_code == 429
        error = graph_error(response)
        assert error["code"] == 130429
        assert error["message"] == "(#130429) Rate limit hit"
    stats = httpx.get(server.url + "/_sandbox/throughput").json()
    assert stats["accepted"] == 5
    assert stats["throughput_limited"] == 7
    assert stats["max_per_second"] <= 5
    assert sum(bucket["count"] for bucket in stats["per_second"]) == 5


def test_throughput_window_slides(make_sandbox: Any) -> None:
    server = make_sandbox(throughput_per_second=2, enforce_service_window=False)
    with client_for(server) as graph:
        codes = [graph.post(MESSAGES, json=text_message(to=f"6281300000{n:02d}")).status_code
                 for n in range(3)]  # fmt: skip
        assert codes == [200, 200, 429]
        time.sleep(1.05)
        assert graph.post(MESSAGES, json=text_message(to="628130000099")).status_code == 200


def test_pair_rate_limit_is_131056_per_recipient(make_sandbox: Any) -> None:
    server = make_sandbox(pair_rate_burst=2, pair_rate_interval_s=60)
    with client_for(server) as graph:
        first = graph.post(MESSAGES, json=text_message(to="6281234500001"))
        second = graph.post(MESSAGES, json=text_message(to="6281234500001"))
        third = graph.post(MESSAGES, json=text_message(to="6281234500001"))
        other = graph.post(MESSAGES, json=text_message(to="6281234500002"))
    assert (first.status_code, second.status_code, other.status_code) == (200, 200, 200)
    assert third.status_code == 400
    error = graph_error(third)
    assert error["code"] == 131056
    assert error["message"] == "(#131056) (Business Account, Consumer Account) pair rate limit hit"
    assert "same phone number" in error["error_data"]["details"]
    stats = httpx.get(server.url + "/_sandbox/throughput").json()
    assert stats["pair_limited"] == 1 and stats["accepted"] == 3


def test_pair_rate_refills_one_message_per_interval(make_sandbox: Any) -> None:
    server = make_sandbox(pair_rate_burst=1, pair_rate_interval_s=0.3)
    with client_for(server) as graph:
        assert graph.post(MESSAGES, json=text_message()).status_code == 200
        assert graph.post(MESSAGES, json=text_message()).status_code == 400
        time.sleep(0.35)
        assert graph.post(MESSAGES, json=text_message()).status_code == 200


def test_pair_limited_sends_do_not_use_throughput(make_sandbox: Any) -> None:
    server = make_sandbox(pair_rate_burst=1, pair_rate_interval_s=60, throughput_per_second=2)
    with client_for(server) as graph:
        assert graph.post(MESSAGES, json=text_message()).status_code == 200
        assert graph_error(graph.post(MESSAGES, json=text_message()))["code"] == 131056
        assert graph.post(MESSAGES, json=text_message(to="6281234599999")).status_code == 200


def _outcomes(server: Any) -> list[tuple[str, int | None]]:
    messages = httpx.get(server.url + "/_sandbox/messages").json()["data"]
    return [(m["outcome"], m["error_code"]) for m in messages]


def test_free_form_outside_the_window_fails_with_131047(make_sandbox: Any) -> None:
    server = make_sandbox()
    with client_for(server) as graph:
        assert graph.post(MESSAGES, json=text_message(to="6281200000001")).status_code == 200
        inbound = httpx.post(
            server.url + "/_sandbox/inbound", json={"from": "6281200000002", "text": "Halo kak"}
        )
        assert inbound.status_code == 201
        assert graph.post(MESSAGES, json=text_message(to="6281200000002")).status_code == 200
    assert _outcomes(server) == [("failed", 131047), ("read", None)]


def test_window_enforcement_can_be_relaxed(make_sandbox: Any) -> None:
    server = make_sandbox(enforce_service_window=False)
    with client_for(server) as graph:
        assert graph.post(MESSAGES, json=text_message(to="6281200000003")).status_code == 200
    assert _outcomes(server) == [("read", None)]


def test_relaxing_the_window_at_runtime(make_sandbox: Any) -> None:
    server = make_sandbox()
    patched = httpx.patch(server.url + "/_sandbox/config", json={"enforce_service_window": False})
    assert patched.status_code == 200 and patched.json()["enforce_service_window"] is False
    with client_for(server) as graph:
        graph.post(MESSAGES, json=text_message(to="6281200000004"))
    assert _outcomes(server) == [("read", None)]
