"""How soon a new matching contact is a member of a dynamic segment, with the real daemon.

Seeds the demo CRM into a fresh database (a file under a temp folder, or the PostgreSQL
database ``siaran_bench_freshness``), computes the contact features, saves a dynamic
segment "VIP" (label vip), then starts ``dagster-daemon run -m pipelines.definitions``
with its own ``DAGSTER_HOME`` (the ``siaran up`` instance: queued runs, default run
launcher, every sensor of the project running). After the first ticks have settled it adds
a new contact labelled vip, ``--trials`` times, and times how long until the contact is in
``segment_members``: the sensor's tick, its feature refresh, the run's launch and the
snapshot. Everything is dropped at the end.

    .venv/bin/python bench/bench_segment_freshness.py --engine sqlite
    .venv/bin/python bench/bench_segment_freshness.py --engine postgresql

Target (specification 2.1): under 60 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, select, text

from cli.up import DAGSTER_YAML
from core.db import UnitOfWork, make_engine
from core.permissions import SYSTEM_ACTOR
from core.segments import create_segment, refresh_contact_features
from sql.demo_data import seed_demo
from sql.migrate import upgrade
from sql.schema import Contact, ContactLabel, Conversation, Label, SegmentMember
from sql.types import utcnow

PG_URL = os.environ.get(
    "SIARAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
PG_DATABASE = "siaran_bench_freshness"
VIP = {"type": "all", "conditions": [{"type": "labels", "match": "any", "labels": ["vip"]}]}
SETTLE_SECONDS = 45
TIMEOUT_SECONDS = 180
DAEMON = str(Path(sys.executable).parent / "dagster-daemon")


def database(engine_name: str, folder: Path) -> str:
    if engine_name == "sqlite":
        return f"sqlite:///{folder / 'siaran.db'}"
    server = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
    server.dispose()
    return PG_URL.rsplit("/", 1)[0] + "/" + PG_DATABASE


def drop(engine_name: str) -> None:
    if engine_name == "postgresql":
        server = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
        server.dispose()


def prepare(engine: Engine, contacts: int) -> uuid.UUID:
    upgrade(engine)
    started = time.perf_counter()
    seed_demo(engine, contacts=contacts)
    refresh_contact_features(engine)
    print(f"seeded {contacts:,} contacts with features in {time.perf_counter() - started:.1f} s")
    with UnitOfWork(engine).begin() as session:
        segment = create_segment(session, SYSTEM_ACTOR, name="VIP", criteria=VIP)
    print(f'segment "VIP": {segment.contact_count:,} members')
    return segment.id


def new_vip(engine: Engine, trial: int) -> uuid.UUID:
    """A customer who just wrote in and got the vip label."""
    now = utcnow()
    with UnitOfWork(engine).begin() as session:
        contact = Contact(name=f"Bench {trial}", phone=f"+62819{trial:08d}", custom_fields={})
        session.add(contact)
        session.flush()
        vip = session.scalar(select(Label).where(Label.name == "vip"))
        assert vip is not None, "the demo data has a vip label"
        session.add(ContactLabel(contact_id=contact.id, label_id=vip.id))
        session.add(Conversation(contact_id=contact.id, status="incoming", message_count=1,
                                 last_message_at=now))  # fmt: skip
        return contact.id


def member(engine: Engine, segment_id: uuid.UUID, contact_id: uuid.UUID) -> bool:
    with engine.connect() as conn:
        found = conn.execute(
            select(SegmentMember.contact_id).where(
                SegmentMember.segment_id == segment_id, SegmentMember.contact_id == contact_id
            )
        ).first()
    return found is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="siaran-freshness-"))
    home = folder / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    url = database(args.engine, folder)
    engine = make_engine(url)
    daemon = None
    try:
        segment_id = prepare(engine, args.contacts)
        env = dict(os.environ, DATABASE_URL=url, DAGSTER_HOME=str(home), SIARAN_ENV="test",
                   SIARAN_DATA_DIR=str(folder / "data"))  # fmt: skip
        log = (folder / "daemon.log").open("wb")
        command = [DAEMON, "run", "-m", "pipelines.definitions"]
        daemon = subprocess.Popen(
            command,
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        print(f"daemon started; letting its first ticks settle for {SETTLE_SECONDS} s")
        time.sleep(SETTLE_SECONDS)
        latencies = []
        for trial in range(1, args.trials + 1):
            contact_id = new_vip(engine, trial)
            started = time.monotonic()
            while not member(engine, segment_id, contact_id):
                if time.monotonic() - started > TIMEOUT_SECONDS:
                    raise SystemExit(f"trial {trial}: not a member after {TIMEOUT_SECONDS} s")
                time.sleep(0.25)
            latencies.append(time.monotonic() - started)
            print(f"trial {trial}: member after {latencies[-1]:.1f} s")
            time.sleep(5)
        print(
            f"{args.engine}: new contact -> member in {statistics.median(latencies):.1f} s "
            f"median, {max(latencies):.1f} s max over {len(latencies)} trials"
        )
    finally:
        if daemon is not None:
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(30)
        engine.dispose()
        drop(args.engine)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
