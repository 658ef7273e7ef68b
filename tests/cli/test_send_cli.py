"""``siaran send``, run through click against the test database and a sandbox."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from click.testing import CliRunner, Result

from cli.main import main
from core.bootstrap import Siaran
from core.settings import Settings, get_settings
from sandbox import SandboxServer
from sql.schema import Campaign, Contact, Segment, SegmentMember
from sql.types import utcnow
from tests.sender.harness import Rig, sandbox_config


@pytest.fixture
def rig(siaran: Siaran) -> Iterator[Rig]:
    server = SandboxServer(sandbox_config())
    server.start()
    yield Rig(siaran, server)
    server.stop()


@pytest.fixture(autouse=True)
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("SIARAN_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SIARAN_ENV", "test")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def send(*args: str) -> Result:
    return CliRunner().invoke(main, ["send", *args])


def test_sends_a_launched_campaign_and_reports_it(rig: Rig) -> None:
    campaign = rig.campaign(12, rate=50)
    result = send("--campaign", str(campaign))
    assert result.exit_code == 0, result.output
    assert "12/12 sent, 0 failed, 0 queued" in result.output
    assert f"Campaign {campaign} is completed" in result.output
    assert rig.counters()["accepted"] == 12


def test_launches_a_draft_first_when_asked(rig: Rig, siaran: Siaran) -> None:
    now = utcnow()
    with siaran.uow.begin() as session:
        people = [Contact(name=f"Budi {i}", phone=f"+62812555000{i}1", custom_fields={})
                  for i in range(3)]  # fmt: skip
        segment = Segment(name="VIP", criteria={"type": "all", "conditions": []}, kind="static")
        session.add_all([*people, segment])
        session.flush()
        session.add_all(
            SegmentMember(segment_id=segment.id, contact_id=p.id, snapshot_at=now) for p in people
        )
        draft = Campaign(
            name="Flash sale", segment_id=segment.id, whatsapp_account_id=rig.account_id,
            message_content={"body": "Halo {name}!"}, rate_limit=20,
        )  # fmt: skip
        session.add(draft)
        session.flush()
        campaign = draft.id
    refused = send("--campaign", str(campaign))
    assert refused.exit_code == 1
    assert "Campaign 'Flash sale' is draft; launch it before sending." in refused.output

    result = send("--campaign", str(campaign), "--launch")

    assert result.exit_code == 0, result.output
    assert "Launched to 3 recipients (0 excluded)" in result.output
    assert f"Campaign {campaign} is completed" in result.output
    assert sorted(m["text"] for m in rig.accepted()) == [f"Halo Budi {i}!" for i in range(3)]


def test_an_unknown_campaign_is_one_clear_error(rig: Rig) -> None:
    missing = uuid.uuid4()
    result = send("--campaign", str(missing))
    assert result.exit_code == 1
    assert f"Error: Campaign {missing} does not exist." in result.output


def test_returns_with_an_error_code_when_the_campaign_stays_paused(rig: Rig) -> None:
    campaign = rig.campaign(3, status="paused", status_reason="Owner is checking prices")
    result = send("--campaign", str(campaign), "--paused-timeout", "0")
    assert result.exit_code == 1
    assert f"Campaign {campaign} is paused: Owner is checking prices" in result.output
