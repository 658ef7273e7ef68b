"""``siaran import contacts FILE``: the command line face of ``core.contacts_import``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO

import click
from sqlalchemy import select

from core.bootstrap import Siaran, bootstrap
from core.contacts_csv import ColumnMapping
from core.contacts_import import ImportOptions, ImportResult, import_contacts
from core.errors import AuthenticationFailed, InvalidInput
from core.permissions import SYSTEM_ACTOR, Actor
from core.profiles import actor_of
from sql.schema import Profile

MAPPABLE = ("name", "phone", "labels", "timezone")
BAD_ROWS_SHOWN = 50


@click.group("import")
def import_group() -> None:
    """Bring data into Siaran from files."""


@import_group.command("contacts")
@click.argument("file", type=click.File("rb"))
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="FIELD=COLUMN",
    help="Which column holds name, phone, labels or timezone (repeatable); "
    "an empty COLUMN means the file has none. Unmapped fields are detected from the header.",
)
@click.option("--labels-column", metavar="COLUMN", help="Same as --map labels=COLUMN.")
@click.option(
    "--label-separator",
    metavar="SEP",
    help="What separates labels in one cell (default: any of ; , |).",
)
@click.option(
    "--custom-fields",
    metavar="LIST",
    help="Comma list of the columns to keep as custom fields, each COLUMN or KEY=COLUMN "
    "to rename (default: every other column; an empty LIST keeps none).",
)
@click.option("--region", metavar="CC", help="Region for numbers without +country code.")
@click.option("--skip-bad-rows", is_flag=True, help="Import the good rows, report the bad.")
@click.option("--dry-run", is_flag=True, help="Validate and report; write nothing.")
@click.option("--keep-strings", is_flag=True, help="Store custom field values as text.")
@click.option("--delimiter", metavar="CHAR", help="Field delimiter (default: detected).")
@click.option(
    "--encoding",
    default="utf-8-sig",
    show_default=True,
    help="The file's text encoding, e.g. cp1252 for older Excel exports.",
)
@click.option(
    "--as",
    "as_email",
    metavar="EMAIL",
    help="The profile the import is audited under (default: the system user).",
)
def import_contacts_command(
    file: IO[bytes],
    maps: tuple[str, ...],
    labels_column: str | None,
    label_separator: str | None,
    custom_fields: str | None,
    region: str | None,
    skip_bad_rows: bool,
    dry_run: bool,
    keep_strings: bool,
    delimiter: str | None,
    encoding: str,
    as_email: str | None,
) -> None:
    """Import contacts from the CSV FILE ("-" reads standard input).

    Phone numbers are normalised to E.164 and duplicates merged by phone, within the file
    and with the contacts already stored. The import is all-or-nothing unless
    --skip-bad-rows is given; it exits with status 1 when bad rows kept it from importing.
    """
    mapping = _mapping(maps, labels_column, label_separator, custom_fields)
    app = bootstrap()
    try:
        actor = _actor(app, as_email)
        options = ImportOptions(
            region=region or app.settings.default_region,
            skip_bad_rows=skip_bad_rows,
            dry_run=dry_run,
            infer_types=not keep_strings,
            delimiter=delimiter.replace("\\t", "\t") if delimiter else None,
            encoding=encoding,
        )
        result = import_contacts(
            app.uow, actor, file, mapping=mapping, options=options, file_name=_name(file)
        )
    finally:
        app.engine.dispose()
    _report(result)
    if result.rejected or (result.bad_rows and result.imported_rows == 0):
        sys.exit(1)


def _mapping(
    maps: tuple[str, ...],
    labels_column: str | None,
    label_separator: str | None,
    custom_fields: str | None,
) -> ColumnMapping:
    fields: dict[str, str] = {}
    for item in maps:
        target, sep, column = item.partition("=")
        target = target.strip().lower()
        if not sep or target not in MAPPABLE:
            raise click.BadParameter(
                f"{item!r}: expected FIELD=COLUMN with FIELD one of {', '.join(MAPPABLE)}",
                param_hint="--map",
            )
        fields[target] = column.strip()
    if labels_column is not None:
        fields["labels"] = labels_column
    custom: dict[str, str | None] | None = None
    if custom_fields is not None:
        custom = {}
        for item in filter(None, (part.strip() for part in custom_fields.split(","))):
            key, sep, column = item.partition("=")
            if sep:
                custom[column.strip()] = key.strip()
            else:
                custom[item] = None
    return ColumnMapping(**fields, custom_fields=custom, label_separator=label_separator or None)


def _actor(app: Siaran, email: str | None) -> Actor:
    if email is None:
        return SYSTEM_ACTOR
    with app.uow.session() as session:
        profile = session.scalar(select(Profile).where(Profile.email == email.strip().lower()))
        if profile is None:
            raise InvalidInput(f"No profile has the email {email}.")
        if not profile.is_active:
            raise AuthenticationFailed(f"The profile {email} is deactivated.")
        return actor_of(profile)


def _name(file: IO[bytes]) -> str:
    name = getattr(file, "name", "") or ""
    return "<stdin>" if name in ("", "-", "<stdin>") else Path(str(name)).name or "contacts.csv"


def _report(result: ImportResult) -> None:
    cols = result.columns
    if result.rejected:
        click.secho(
            f"Nothing imported from {result.file_name}: {len(result.bad_rows):,} bad row(s). "
            "Fix them, or use --skip-bad-rows to import the good rows.",
            fg="red",
        )
    elif result.dry_run:
        click.secho(f"Dry run of {result.file_name}: nothing was written.", fg="yellow")
    else:
        click.secho(f"Imported {result.file_name}.", fg="green")
    # Printed in the syntax of --map and --custom-fields, so a detection can be corrected.
    roles = {"phone": cols.phone, "name": cols.name, "labels": cols.labels}
    roles["timezone"] = cols.timezone
    click.echo("  columns: " + ", ".join(f"{f}={c or '(none)'}" for f, c in roles.items()))
    custom = ", ".join(f"{key}={column}" for column, key in cols.custom_fields.items())
    click.echo(f"  custom fields: {custom or '(none)'}")
    verb = "would be " if result.dry_run else ""
    lines = [("rows read", result.rows)]
    if not result.rejected:
        lines += [
            (f"{verb}created", result.created),
            (f"{verb}updated", result.updated),
            ("unchanged", result.unchanged),
            ("merged duplicate rows", result.merged_rows),
        ]
    lines.append(("bad rows" + (" (skipped)" if result.skipped else ""), len(result.bad_rows)))
    if result.blank_rows:
        lines.append(("blank rows ignored", result.blank_rows))
    for label, count in lines:
        click.echo(f"  {label + ':':<26}{count:>10,}")
    if result.labels_created:
        shown = ", ".join(result.labels_created[:20])
        more = len(result.labels_created) - 20
        click.echo(
            f"  {verb}new labels ({len(result.labels_created)}): {shown}"
            + (f" and {more} more" if more > 0 else "")
        )
    if result.bad_rows:
        click.echo("Bad rows:")
        for line, reason in result.bad_rows[:BAD_ROWS_SHOWN]:
            click.echo(f"  line {line}: {reason}")
        hidden = len(result.bad_rows) - BAD_ROWS_SHOWN
        if hidden > 0:
            click.echo(f"  ... and {hidden:,} more bad row(s)")
