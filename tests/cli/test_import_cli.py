"""``siaran import contacts``, run through click against the test database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from cli.main import main
from core.db import UnitOfWork
from core.permissions import Actor
from core.settings import Settings, get_settings
from sql.schema import AuditLog, Contact

BUDI = "+6281234567890"


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point the command line's settings at the test database."""
    monkeypatch.setenv("DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("SIARAN_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SIARAN_ENV", "test")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def invoke(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, ["import", "contacts", *args], input=stdin)


def write(tmp_path: Path, *lines: str, name: str = "pelanggan.csv") -> str:
    path = tmp_path / name
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode())
    return str(path)


def contacts(uow: UnitOfWork) -> dict[str, Contact]:
    with uow.session() as session:
        return {c.phone: c for c in session.scalars(select(Contact))}


def import_entries(uow: UnitOfWork) -> list[AuditLog]:
    with uow.session() as session:
        query = select(AuditLog).where(AuditLog.action == "contact.import")
        return list(session.scalars(query))


@pytest.mark.usefixtures("cli_env")
def test_imports_and_prints_a_summary(tmp_path: Path, uow: UnitOfWork) -> None:
    path = write(
        tmp_path,
        "Nama;No HP;Tags;Kota",
        'Budi;0812-3456-7890;"vip,promo";Bandung',
        "Siti;081298765432;;Medan",
    )
    result = invoke(path)
    assert result.exit_code == 0, result.output
    assert "Imported pelanggan.csv." in result.output
    assert "columns: phone=No HP, name=Nama, labels=Tags, timezone=(none)" in result.output
    assert "custom fields: kota=Kota" in result.output
    assert "created:                           2" in result.output
    assert "new labels (2): promo, vip" in result.output
    assert contacts(uow)[BUDI].custom_fields == {"kota": "Bandung"}
    [entry] = import_entries(uow)
    assert (entry.actor_role, entry.details["file_name"]) == ("system", "pelanggan.csv")


@pytest.mark.usefixtures("cli_env")
def test_bad_rows_reject_the_file_with_exit_code_1(tmp_path: Path, uow: UnitOfWork) -> None:
    lines = ["name,phone", "Budi,081234567890"] + [f"Bad {i},12{i}" for i in range(60)]
    result = invoke(write(tmp_path, *lines))
    assert result.exit_code == 1
    assert "Nothing imported from pelanggan.csv: 60 bad row(s)." in result.output
    assert "line 3: '120' is not a valid phone number" in result.output
    assert "line 52: " in result.output and "line 53: " not in result.output
    assert "... and 10 more bad row(s)" in result.output
    assert contacts(uow) == {} and import_entries(uow) == []


@pytest.mark.usefixtures("cli_env")
def test_skip_bad_rows_and_dry_run(tmp_path: Path, uow: UnitOfWork) -> None:
    path = write(tmp_path, "name,phone", "Budi,081234567890", "Bad,0812")
    result = invoke(path, "--skip-bad-rows", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Dry run of pelanggan.csv: nothing was written." in result.output
    assert "would be created:                  1" in result.output
    assert "bad rows (skipped):                1" in result.output
    assert contacts(uow) == {}
    result = invoke(path, "--skip-bad-rows")
    assert result.exit_code == 0, result.output
    assert set(contacts(uow)) == {BUDI}


@pytest.mark.usefixtures("cli_env")
def test_nothing_good_to_import_exits_1_even_when_skipping(tmp_path: Path) -> None:
    result = invoke(write(tmp_path, "name,phone", "Bad,0812"), "--skip-bad-rows")
    assert result.exit_code == 1


@pytest.mark.usefixtures("cli_env")
def test_mapping_options(tmp_path: Path, uow: UnitOfWork) -> None:
    path = write(
        tmp_path,
        "Customer|Mobile Number|Groups|City|Spend|Note",
        "Budi|012-345 6789|gold/silver|Kuala Lumpur|100|ignored",
    )
    result = invoke(
        path,
        "--delimiter",
        "|",
        "--map",
        "name=Customer",
        "--map",
        "phone=Mobile Number",
        "--labels-column",
        "Groups",
        "--label-separator",
        "/",
        "--custom-fields",
        "kota=City,Spend",
        "--region",
        "MY",
        "--keep-strings",
    )
    assert result.exit_code == 0, result.output
    contact = contacts(uow)["+60123456789"]
    assert contact.name == "Budi"
    assert contact.custom_fields == {"kota": "Kuala Lumpur", "spend": "100"}


@pytest.mark.usefixtures("cli_env")
def test_as_profile_is_audited(tmp_path: Path, uow: UnitOfWork, owner: Actor) -> None:
    path = write(tmp_path, "name,phone", "Budi,081234567890")
    result = invoke(path, "--as", "OWNER@example.com")
    assert result.exit_code == 0, result.output
    [entry] = import_entries(uow)
    assert entry.actor_id == owner.id


@pytest.mark.usefixtures("cli_env")
def test_as_supervisor_is_refused(tmp_path: Path, uow: UnitOfWork, supervisor: Actor) -> None:
    result = invoke(write(tmp_path, "name,phone", "Budi,081234567890"), "--as", supervisor.email)
    assert result.exit_code == 1
    assert "may not create, change or delete contacts" in result.output
    assert contacts(uow) == {}


@pytest.mark.usefixtures("cli_env")
def test_unknown_profile_and_bad_map(tmp_path: Path) -> None:
    path = write(tmp_path, "name,phone", "Budi,081234567890")
    result = invoke(path, "--as", "nobody@example.com")
    assert result.exit_code == 1
    assert "No profile has the email nobody@example.com" in result.output
    result = invoke(path, "--map", "email=E-mail")
    assert result.exit_code == 2
    assert "expected FIELD=COLUMN" in result.output
    result = invoke(path, "--map", "phone=HP")
    assert result.exit_code == 1
    assert "The phone column 'HP' is not in the file" in result.output


@pytest.mark.usefixtures("cli_env")
def test_reads_standard_input(uow: UnitOfWork) -> None:
    result = invoke("-", stdin="name,phone\nBudi,081234567890\n")
    assert result.exit_code == 0, result.output
    assert "Imported <stdin>." in result.output
    assert set(contacts(uow)) == {BUDI}
