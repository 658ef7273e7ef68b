"""Crash safety: a sender process killed with SIGKILL mid-campaign, again and again.

The sender runs as operators run it (``siaran send --campaign``, a separate process on the
same database), against the sandbox, whose status webhooks reach a receiver in this test
process. After each kill a new sender starts; in the end the campaign completes and the
sandbox, counting by ``biz_opaque_callback_data``, proves every recipient got exactly one
message: nothing lost, nothing sent twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from core.settings import Settings
from tests.sender.harness import Rig, wait_for

ROOT = Path(__file__).resolve().parents[2]
KILLS = 3


def start_sender(campaign_id: uuid.UUID, settings: Settings, db_url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "SIARAN_ENV": "test",
        "SIARAN_DATA_DIR": str(settings.data_dir),
        "SIARAN_SENDER_RECONCILE_GRACE_SECONDS": "2",
        "SIARAN_SENDER_HEARTBEAT_SECONDS": "0.5",
        "SIARAN_SENDER_WORKER_TIMEOUT_SECONDS": "5",
    }
    return subprocess.Popen(
        # ``siaran send`` without loading every other command's modules: a faster start.
        [sys.executable, "-m", "cli.send", "--campaign", str(campaign_id)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_killing_the_sender_loses_nothing_and_sends_nothing_twice(
    rig: Rig, settings: Settings, db_url: str
) -> None:
    campaign = rig.campaign(300, rate=60)
    kills = 0
    for _ in range(KILLS):
        target = rig.counters()["accepted"] + 40
        sender = start_sender(campaign, settings, db_url)
        try:
            # Asking the sandbox (in this process) 100 times a second stalled it on a busy
            # machine and bunched its acceptance stamps; 10 times is close enough to kill.
            wait_for(lambda t=target: rig.counters()["accepted"] >= t, timeout=30, every=0.1)
        finally:
            sender.send_signal(signal.SIGKILL)
            sender.wait(10)
        kills += 1
        assert sender.returncode == -signal.SIGKILL
    claimed_by_the_dead = sum(
        1 for m in rig.messages(campaign) if m.status == "sending" and m.claimed_by
    )

    survivor = start_sender(campaign, settings, db_url)
    output, _ = survivor.communicate(timeout=120)

    assert survivor.returncode == 0, output
    assert f"Campaign {campaign} is completed" in output
    assert kills == KILLS
    assert claimed_by_the_dead > 0, "a kill left messages mid-send (else the test proves little)"
    sent = rig.accepted_ids()
    messages = rig.messages(campaign)
    assert set(sent) == {str(m.id) for m in messages}, "nothing lost"
    assert max(sent.values()) == 1, "nothing sent twice"
    assert rig.statuses(campaign) == {"sent": 300}
    assert {m.wamid for m in messages} == {m["id"] for m in rig.accepted()}
    assert rig.get(campaign).sent_count == 300
    # A restarted sender must not add its rate to the dead one's: no second near twice the
    # rate. (Exact pacing is the rate tests' job; on a loaded machine the sandbox's clock can
    # bunch a stalled second's sends into the next, which this test is not about.)
    assert max(rig.per_second().values()) < 2 * 60, "restarts never doubled the rate"
    assert not any(m.claimed_by for m in messages)
