"""Reading contacts from a CSV file: decoding, delimiter, column mapping and row validation.

No database here: ``core.contacts_import`` applies what this module yields. The rules a
user sees (all documented in ``docs/contact-import.md``):

- The file is UTF-8 (a BOM is fine); the delimiter is detected from the header line
  (``,`` ``;`` tab or ``|``) or declared by an Excel ``sep=;`` first line.
- Columns are found by name (``ColumnMapping``) or detected from common headers in English
  and Indonesian (``name``/``nama``, ``phone``/``hp``/``no_hp``/``whatsapp``/``telepon``...).
- Every other named column becomes a custom field whose key is the header in snake_case
  (``Total Spend`` -> ``total_spend``) unless an explicit list or renaming is given.
- An empty cell never erases anything: it means "no value in this row".
- A row without a name is not an error; the contact keeps its stored name, and a new
  contact is named after its phone number (the shared inbox shows WhatsApp contacts so).
- Labels are trimmed, lowercased and their inner spaces become underscores
  (`` Pelanggan Setia`` -> ``pelanggan_setia``), the form the CRM's labels take.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import IO, Any
from zoneinfo import available_timezones

from core.errors import InvalidInput
from core.phones import normalize_phone

NAME_MAX = 200
LABEL_MAX = 100
DELIMITERS = (",", ";", "\t", "|")
DEFAULT_LABEL_SEPARATORS = ";,|"

NAME_HEADERS = frozenset(
    {"name", "nama", "full_name", "nama_lengkap", "customer_name", "contact_name"}
    | {"nama_pelanggan", "nama_customer", "nama_kontak"}
)
PHONE_HEADERS = frozenset(
    {"phone", "phone_number", "mobile", "mobile_phone", "whatsapp", "whatsapp_number", "wa"}
    | {"hp", "no_hp", "nohp", "nomor_hp", "handphone", "no_wa", "nomor_wa", "nomor_whatsapp"}
    | {"telepon", "telp", "no_telp", "no_telepon", "nomor_telepon", "msisdn"}
    | {"hp_wa", "wa_hp", "no_hp_wa", "nomor_hp_wa"}
)
LABEL_HEADERS = frozenset({"labels", "label", "tags", "tag"})
TIMEZONE_HEADERS = frozenset({"timezone", "time_zone", "tz", "zona_waktu"})

# Indonesia's three zones as people write them.
TIMEZONE_ALIASES = {"wib": "Asia/Jakarta", "wita": "Asia/Makassar", "wit": "Asia/Jayapura"}
BOOLEANS = {"true": True, "false": False, "yes": True, "no": False, "ya": True, "tidak": False}
_INTEGER = re.compile(r"-?(?:0|[1-9]\d*)")
_DECIMAL = re.compile(r"-?(?:0|[1-9]\d*)\.\d+")
_SEP_LINE = re.compile(r"sep=(.)\s*", re.IGNORECASE)
_QUOTED = re.compile(r'"[^"]*"')
# Integers beyond 2**53 lose precision in JSON readers (JavaScript): keep them as text.
_MAX_SAFE_INT = 2**53


@dataclass(frozen=True)
class ColumnMapping:
    """Which CSV column feeds which contact field.

    ``None`` detects the column from its header; ``""`` says the file has no such column.
    ``custom_fields``: ``None`` takes every other column; otherwise the columns to keep,
    as a list or as ``{column: key}`` to rename (a ``None`` key is derived from the header).
    """

    name: str | None = None
    phone: str | None = None
    labels: str | None = None
    timezone: str | None = None
    custom_fields: Mapping[str, str | None] | Sequence[str] | None = None
    label_separator: str | None = None


@dataclass(frozen=True)
class ResolvedColumns:
    """The columns an import actually uses, for the report and the audit record."""

    phone: str
    name: str | None
    labels: str | None
    timezone: str | None
    custom_fields: dict[str, str]  # CSV column -> custom field key
    delimiter: str

    def describe(self) -> dict[str, Any]:
        return {
            "phone": self.phone,
            "name": self.name,
            "labels": self.labels,
            "timezone": self.timezone,
            "custom_fields": dict(self.custom_fields),
            "delimiter": self.delimiter,
        }


@dataclass
class ContactRow:
    """One valid row, normalised: what the file says about the contact with ``phone``."""

    line: int
    phone: str
    name: str | None
    timezone: str | None
    custom_fields: dict[str, Any] = field(default_factory=dict)
    labels: set[str] = field(default_factory=set)

    def absorb(self, later: ContactRow) -> None:
        """Merge a later row for the same phone: its values win, labels add up."""
        self.name = later.name or self.name
        self.timezone = later.timezone or self.timezone
        self.custom_fields.update(later.custom_fields)
        self.labels |= later.labels


@dataclass(frozen=True)
class RowProblem:
    line: int
    reason: str


def field_key(header: str) -> str:
    """``" Total Spend (Rp)"`` -> ``"total_spend_rp"``: the snake_case key of a header."""
    return re.sub(r"\W+", "_", header.strip().lower()).strip("_")


def normalize_label(name: str) -> str:
    return re.sub(r"\s+", "_", name.strip().lower())


def infer_value(text: str) -> Any:
    """A cell as JSON: booleans, integers and decimals typed; anything else (dates too) text.

    Numbers with a leading zero or a plus (postcodes, phone-like ids) stay text, as do
    grouped numbers like ``1.500.000`` whose meaning depends on the writer's locale.
    """
    lowered = text.lower()
    if lowered in BOOLEANS:
        return BOOLEANS[lowered]
    if _INTEGER.fullmatch(text):
        number = int(text)
        return number if abs(number) <= _MAX_SAFE_INT else text
    if _DECIMAL.fullmatch(text) and len(text) <= 16:
        return float(text)
    return text


@lru_cache(maxsize=1)
def _timezones() -> dict[str, str]:
    zones = {name.lower(): name for name in available_timezones()}
    zones.update(TIMEZONE_ALIASES)
    return zones


def resolve_timezone(text: str) -> str | None:
    """The IANA name for ``text`` (any case; WIB/WITA/WIT too), or None if unknown."""
    return _timezones().get(text.strip().lower())


class ContactCsv:
    """A CSV file of contacts, read as a stream of ``ContactRow`` and ``RowProblem``."""

    def __init__(
        self,
        source: bytes | IO[bytes] | IO[str],
        mapping: ColumnMapping,
        *,
        region: str,
        infer_types: bool = True,
        delimiter: str | None = None,
        encoding: str = "utf-8-sig",
    ) -> None:
        self.region = region
        self.infer_types = infer_types
        self.blank_rows = 0
        lines = _decoded_lines(source, encoding)
        header_line, declared, consumed = _first_line(lines)
        self.delimiter = delimiter or declared or _detect_delimiter(header_line)
        if len(self.delimiter) != 1:
            raise InvalidInput(f"The delimiter must be one character, not {self.delimiter!r}.")
        self._reader = csv.reader(itertools.chain([header_line], lines), delimiter=self.delimiter)
        self._line_offset = consumed
        header = self._next_record() if header_line else None
        if not header:
            raise InvalidInput("The file is empty: it needs a header line naming its columns.")
        self.header = [h.strip() for h in header]
        self.columns = resolve_columns(self.header, mapping, self.delimiter)
        self._index = {h: i for i, h in enumerate(self.header)}
        sep = mapping.label_separator
        self._split_labels = (
            re.compile(f"[{re.escape(DEFAULT_LABEL_SEPARATORS)}]").split
            if not sep
            else (lambda text: text.split(sep))
        )

    def rows(self) -> Iterator[ContactRow | RowProblem]:
        """Each data row in file order; blank rows are counted in ``blank_rows``, not yielded."""
        while True:
            line = self._line_offset + self._reader.line_num + 1
            values = self._next_record()
            if values is None:
                return
            parsed = self._parse(values, line)
            if parsed is None:
                self.blank_rows += 1
            else:
                yield parsed

    def _next_record(self) -> list[str] | None:
        try:
            return next(self._reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            line = self._line_offset + self._reader.line_num
            raise InvalidInput(f"Line {line} cannot be read as CSV: {exc}.") from None

    def _cell(self, values: list[str], column: str | None) -> str:
        if column is None:
            return ""
        index = self._index[column]
        return values[index].strip() if index < len(values) else ""

    def _parse(self, values: list[str], line: int) -> ContactRow | RowProblem | None:
        if not any(v.strip() for v in values):
            return None
        if len(values) > len(self.header) and any(v.strip() for v in values[len(self.header) :]):
            return RowProblem(
                line,
                f"the row has {len(values)} fields but the header has {len(self.header)} "
                "(check the quotes and the delimiter)",
            )
        problems: list[str] = []
        cols = self.columns
        phone = self._phone(self._cell(values, cols.phone), problems)
        name = self._cell(values, cols.name) or None
        if name is not None and len(name) > NAME_MAX:
            problems.append(f"the name is longer than {NAME_MAX} characters")
        timezone = None
        if zone_text := self._cell(values, cols.timezone):
            timezone = resolve_timezone(zone_text)
            if timezone is None:
                problems.append(
                    f"timezone {zone_text!r} is not an IANA timezone such as Asia/Jakarta"
                )
        labels = self._labels(self._cell(values, cols.labels), problems)
        if problems or phone is None:
            return RowProblem(line, "; ".join(problems))
        custom: dict[str, Any] = {}
        for column, key in cols.custom_fields.items():
            if text := self._cell(values, column):
                custom[key] = infer_value(text) if self.infer_types else text
        return ContactRow(line, phone, name, timezone, custom, labels)

    def _phone(self, text: str, problems: list[str]) -> str | None:
        if not text:
            problems.append(f"no phone number (column {self.columns.phone!r} is empty)")
            return None
        try:
            return normalize_phone(text, self.region)
        except InvalidInput as exc:
            hint = ""
            if re.search(r"\d[.,]\d*E\+?\d+$", text, re.IGNORECASE):
                hint = " (a spreadsheet turned it into a number: format the column as Text)"
            problems.append(f"{exc.message}{hint}")
            return None

    def _labels(self, text: str, problems: list[str]) -> set[str]:
        labels = {normalize_label(part) for part in self._split_labels(text)} - {""}
        for label in sorted(labels):
            if len(label) > LABEL_MAX:
                problems.append(f"label {label[:20]!r}... is longer than {LABEL_MAX} characters")
        return labels


def resolve_columns(header: list[str], mapping: ColumnMapping, delimiter: str) -> ResolvedColumns:
    """Match the mapping (or the known headers) to the file's columns; InvalidInput if not."""
    named = [h for h in header if h]
    duplicates = sorted({h for h in named if named.count(h) > 1})
    if duplicates:
        raise InvalidInput(f"The header repeats column names: {', '.join(duplicates)}.")
    roles: dict[str, str | None] = {}
    for role, explicit, known in (
        ("phone", mapping.phone, PHONE_HEADERS),
        ("name", mapping.name, NAME_HEADERS),
        ("labels", mapping.labels, LABEL_HEADERS),
        ("timezone", mapping.timezone, TIMEZONE_HEADERS),
    ):
        if explicit is None:
            taken = set(roles.values())
            roles[role] = next((h for h in named if field_key(h) in known and h not in taken), None)
        elif explicit.strip() == "":
            roles[role] = None
        else:
            roles[role] = _find_column(named, explicit, f"the {role} column")
    if roles["phone"] is None:
        raise InvalidInput(
            "No phone column found: name it (e.g. --map phone=COLUMN). "
            f"The file's columns are: {_listing(named)}."
        )
    used = [c for c in roles.values() if c is not None]
    if len(used) != len(set(used)):
        raise InvalidInput("One column cannot be mapped to two contact fields.")
    custom = _custom_fields(named, mapping.custom_fields, set(used))
    return ResolvedColumns(
        phone=roles["phone"],
        name=roles["name"],
        labels=roles["labels"],
        timezone=roles["timezone"],
        custom_fields=custom,
        delimiter=delimiter,
    )


def _custom_fields(
    named: list[str],
    wanted: Mapping[str, str | None] | Sequence[str] | None,
    used: set[str],
) -> dict[str, str]:
    if wanted is None:
        pairs = [(h, field_key(h) or h) for h in named if h not in used]
    else:
        items = wanted.items() if isinstance(wanted, Mapping) else ((c, None) for c in wanted)
        pairs = []
        for column, key in items:
            found = _find_column(named, column, "the custom field column")
            pairs.append((found, (key or "").strip() or field_key(found) or found))
    keys = [key for _, key in pairs]
    clashes = sorted({k for k in keys if keys.count(k) > 1})
    if clashes:
        raise InvalidInput(
            f"Several columns would fill the custom field(s) {', '.join(clashes)}: "
            "list the custom fields with distinct names."
        )
    return dict(pairs)


def _find_column(named: list[str], wanted: str, role: str) -> str:
    wanted = wanted.strip()
    if wanted in named:
        return wanted
    loose = [h for h in named if field_key(h) == field_key(wanted)]
    if len(loose) == 1:
        return loose[0]
    raise InvalidInput(
        f"{role.capitalize()} {wanted!r} is not in the file. "
        f"The file's columns are: {_listing(named)}."
    )


def _listing(columns: Iterable[str]) -> str:
    return ", ".join(repr(c) for c in columns) or "(none)"


def _decoded_lines(source: bytes | IO[bytes] | IO[str], encoding: str) -> Iterator[str]:
    """Text lines of ``source`` with their line endings, failing clearly on bad bytes."""
    if isinstance(source, bytes | bytearray | memoryview):
        source = io.BytesIO(bytes(source))
    if isinstance(source, io.TextIOBase):
        for number, text in enumerate(source, 1):
            yield text.lstrip("\ufeff") if number == 1 else text
        return
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
    except LookupError:
        raise InvalidInput(f"Unknown encoding {encoding!r}.") from None
    number = 0
    # Splitting bytes on b"\n" is safe for UTF-8 and the single-byte codepages Excel uses.
    for number, raw in enumerate(source, 1):
        try:
            yield decoder.decode(raw)
        except UnicodeDecodeError:
            raise InvalidInput(
                f"Line {number} is not valid {encoding} text. Save the file as "
                "'CSV UTF-8', or name its encoding (e.g. cp1252)."
            ) from None
    try:
        tail = decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InvalidInput(f"Line {number} ends in the middle of a character.") from None
    if tail:
        yield tail


def _first_line(lines: Iterator[str]) -> tuple[str, str | None, int]:
    """The header line, a delimiter declared by Excel's ``sep=`` line, lines skipped before."""
    skipped = 0
    declared = None
    for text in lines:
        if not text.strip():
            skipped += 1
            continue
        match = _SEP_LINE.fullmatch(text.strip("\r\n"))
        if match and declared is None and skipped == 0:
            declared = match.group(1)
            skipped += 1
            continue
        return text, declared, skipped
    return "", declared, skipped


def _detect_delimiter(header_line: str) -> str:
    unquoted = _QUOTED.sub("", header_line)
    counts = {d: unquoted.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","
