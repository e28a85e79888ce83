"""A worksheet's rows read straight from its XML by expat: the fast path of the xlsx import's reading.

openpyxl's read-only sheet builds an element tree of every row in pure Python: a fast path, without
which the import bench's xlsx creates were 52% slower (bench/README.md, Import). `sheet_rows_fast` reads
the same XML in one expat pass, namespace-aware as openpyxl's parser (defusedxml's ElementTree, itself
expat), and answers exactly what `iter_rows(min_row=2, max_col=width, values_only=True)` answers,
numbered as `reading.py` numbers them: the same numbers, shared strings, booleans, dates (the workbook's
date styles and epoch), errors and inline strings, rows skipped and numbered alike.

It reads the cells that spreadsheet programs write: a value (`<v>`) of any type, an inline string of one
plain `<t>`. A cell of any other shape (a formula, rich text, ...) is rebuilt as an element and read by
openpyxl's own cell parser, which keeps a shared formula's state as openpyxl keeps it. XML that openpyxl
treats as more than cells among the rows (sheet properties or rows nested in the data, which its parser
acts on wherever they are) raises SheetUnusual, and the caller reads the rest of the sheet with
openpyxl. What surrounds the rows (views, columns, margins, ...) is read by openpyxl too: before the
rows when the caller reads the header, after them from the sheet with its rows cut out, so that a part
it refuses is refused at the same point. tests/test_import_sheet_rows.py holds the two readers to the
same rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from itertools import product
from string import ascii_uppercase
from typing import IO, Any
from xml.etree.ElementTree import TreeBuilder
from xml.parsers import expat

from openpyxl.utils.cell import coordinate_to_tuple
from openpyxl.utils.datetime import from_excel, from_ISO8601
from openpyxl.worksheet import _reader as openpyxl_reader
from openpyxl.worksheet._reader import WorkSheetParser, _cast_number

CHUNK_BYTES = 1024 * 1024
# expat's names are `namespace}local` with this separator, as openpyxl's parser asks; ElementTree's tags
# are the same with a `{` before.
SEPARATOR = "}"


def _expat_name(tag: str) -> str:
    return tag[1:]


SHEET_DATA = _expat_name(openpyxl_reader.DATA_TAG)
ROW = _expat_name(openpyxl_reader.ROW_TAG)
VALUE = _expat_name(openpyxl_reader.VALUE_TAG)
INLINE_STRING = _expat_name(openpyxl_reader.INLINE_STRING)
TEXT = openpyxl_reader.SHEET_MAIN_NS + SEPARATOR + "t"
# The elements openpyxl's sheet parser acts on wherever they are (WorkSheetParser.parse, parse_dimensions).
SPECIAL = frozenset(
    _expat_name(tag)
    for tag in (
        openpyxl_reader.COL_TAG,
        openpyxl_reader.PROT_TAG,
        openpyxl_reader.EXT_TAG,
        openpyxl_reader.CF_TAG,
        openpyxl_reader.LEGACY_TAG,
        openpyxl_reader.ROW_BREAK_TAG,
        openpyxl_reader.COL_BREAK_TAG,
        openpyxl_reader.CUSTOM_VIEWS_TAG,
        openpyxl_reader.PRINT_TAG,
        openpyxl_reader.MARGINS_TAG,
        openpyxl_reader.PAGE_TAG,
        openpyxl_reader.HEADER_TAG,
        openpyxl_reader.FILTER_TAG,
        openpyxl_reader.VALIDATION_TAG,
        openpyxl_reader.PROPERTIES_TAG,
        openpyxl_reader.VIEWS_TAG,
        openpyxl_reader.FORMAT_TAG,
        openpyxl_reader.SCENARIOS_TAG,
        openpyxl_reader.TABLE_TAG,
        openpyxl_reader.HYPERLINK_TAG,
        openpyxl_reader.MERGE_TAG,
        openpyxl_reader.ROW_TAG,
        openpyxl_reader.DATA_TAG,
        openpyxl_reader.DIMENSION_TAG,
    )
)
# Column letters as openpyxl's coordinate_to_tuple reads them (A..ZZZ); anything else is left to it.
COLUMN_BY_LETTERS = {
    "".join(letters): index
    for index, letters in enumerate(
        (letters for length in (1, 2, 3) for letters in product(ascii_uppercase, repeat=length)), 1
    )
}
DIGITS = "0123456789"
# Where the parser is: outside the rows, in the sheet's data, a row, a cell, a cell's value, its inline
# string, that string's text, or a cell of another shape being rebuilt for openpyxl.
OUTSIDE, DATA, IN_ROW, IN_CELL, IN_VALUE, IN_STRING, IN_TEXT, REBUILDING = range(8)


class SheetUnusual(Exception):
    """The sheet holds XML that the fast reader leaves to openpyxl."""


class SheetRefused(Exception):
    """The sheet declares a DTD or entities (the import's guard refuses them before this reads)."""


def sheet_rows_fast(
    open_source: Any, *, reader: WorkSheetParser, width: int, min_row: int = 2
) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """The sheet's rows from `min_row` on, each `width` values wide, with their numbers.

    `open_source()` opens the sheet's XML (read twice: the rows, then what surrounds them); `reader` is
    openpyxl's parser of this sheet, made as its read-only sheet makes it (the workbook's shared strings,
    date styles and epoch). Raises what openpyxl would raise for a broken cell, and SheetUnusual (after the
    rows read so far) for XML it leaves to openpyxl.
    """
    parsed = _SheetParse(reader=reader, width=width, min_row=min_row)
    with open_source() as source:
        while chunk := source.read(CHUNK_BYTES):
            try:
                parsed.feed(chunk)
            finally:
                yield from parsed.take_rows()
        try:
            parsed.feed(b"", final=True)
        finally:
            yield from parsed.take_rows()
    with open_source() as source:
        surroundings = WorkSheetParser(
            _Without(source, *parsed.cut) if parsed.cut else source,
            reader.shared_strings,
            data_only=reader.data_only,
            epoch=reader.epoch,
            date_formats=reader.date_formats,
            timedelta_formats=reader.timedelta_formats,
        )
        for _ in surroundings.parse():
            raise SheetUnusual("a row outside the sheet's data")


class _Without:
    """A stream without the bytes from `start` to `stop`: the sheet with its rows cut out."""

    def __init__(self, source: IO[bytes], start: int, stop: int) -> None:
        self.source = source
        self.start = start
        self.stop = stop
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        if self.position == self.start:
            self.source.seek(self.stop)
            self.position = self.stop
        if self.position < self.start and (size < 0 or self.position + size > self.start):
            size = self.start - self.position
        data = self.source.read(size)
        self.position += len(data)
        return data


class _SheetParse:
    """One expat pass over a sheet's XML; the rows it completes wait in `rows` until taken."""

    def __init__(self, *, reader: WorkSheetParser, width: int, min_row: int) -> None:
        self.rows: list[tuple[int, tuple[Any, ...]]] = []
        # The bytes of the rows (from the first element in the sheet's data to its end tag), once known.
        self.cut: tuple[int, int] | None = None
        self.parser = expat.ParserCreate(None, SEPARATOR)
        self.parser.buffer_text = True
        self.parser.buffer_size = 64 * 1024
        self.parser.StartDoctypeDeclHandler = self.parser.EntityDeclHandler = _refuse
        self.parser.UnparsedEntityDeclHandler = self.parser.ExternalEntityRefHandler = _refuse
        self.parser.StartElementHandler, self.parser.EndElementHandler, self.parser.CharacterDataHandler = _handlers(
            self, reader, width, min_row
        )

    def feed(self, chunk: bytes, *, final: bool = False) -> None:
        self.parser.Parse(chunk, final)

    def take_rows(self) -> list[tuple[int, tuple[Any, ...]]]:
        rows = self.rows.copy()
        self.rows.clear()  # the handlers append to this list
        return rows


def _refuse(*args: Any) -> None:
    raise SheetRefused


def _handlers(parse: _SheetParse, reader: WorkSheetParser, width: int, min_row: int) -> tuple[Any, Any, Any]:
    """expat's start, end and text handlers, sharing the parse's state in their closure (for speed: they
    run a few times for every cell)."""
    shared_strings = reader.shared_strings
    date_formats = reader.date_formats
    timedelta_formats = reader.timedelta_formats
    epoch = reader.epoch
    rows = parse.rows
    parser = parse.parser
    columns = COLUMN_BY_LETTERS

    where = OUTSIDE
    cut_start = -1
    next_row = min_row  # openpyxl's `counter`: a row numbered below it is read and not given
    row_number = 0
    values: list[Any] = []
    column = 0
    cell_tag = ""
    cell_attrs: dict[str, str] = {}
    cell_type = "n"
    cell_style: Any = 0
    previous_column = 0
    value_seen = string_seen = text_seen = False
    value_text: str | None = None
    string_text: str | None = None
    text: str | None = None
    builder: TreeBuilder | None = None
    depth = 0

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal where, cut_start, row_number, values, column, cell_tag, cell_attrs, cell_type, cell_style
        nonlocal previous_column, value_seen, string_seen, text_seen, value_text, string_text, text, depth, builder
        if where == IN_CELL:
            if name == VALUE and not value_seen:
                where = IN_VALUE
                value_seen = True
                text = None
                return
            if name == INLINE_STRING and not string_seen and not attrs:
                where = IN_STRING
                string_seen = True
                return
        elif where == IN_ROW:
            if name in SPECIAL:
                raise SheetUnusual(name)
            cell_tag = name
            cell_attrs = attrs
            cell_type = attrs.get("t", "n")
            style = attrs.get("s", 0)
            cell_style = int(style) if style else style
            previous_column = column
            coordinate = attrs.get("r")
            if coordinate:
                letters = coordinate.rstrip(DIGITS)
                found = columns.get(letters)
                if found is None or len(letters) == len(coordinate):
                    found = coordinate_to_tuple(coordinate)[1]
                column = found
            else:
                column += 1
            where = IN_CELL
            value_seen = string_seen = text_seen = False
            value_text = string_text = None
            return
        elif where == IN_STRING:
            if name == TEXT and not text_seen:
                where = IN_TEXT
                text_seen = True
                text = None
                return
        elif where == DATA:
            if name != ROW:
                raise SheetUnusual(name)
            if cut_start < 0:
                cut_start = parser.CurrentByteIndex
            number = attrs.get("r")
            if number is None:
                row_number += 1
            else:
                try:
                    row_number = int(number)
                except ValueError:
                    as_float = float(number)
                    if not as_float.is_integer():
                        raise ValueError(f"{number} is not a valid row number") from None
                    row_number = int(as_float)
            column = 0
            values = [None] * width
            where = IN_ROW
            return
        elif where == OUTSIDE:
            if name == SHEET_DATA and parse.cut is None and cut_start < 0:
                where = DATA
            elif name in (ROW, SHEET_DATA):
                raise SheetUnusual(name)
            return
        elif where == REBUILDING:
            if name in SPECIAL:
                raise SheetUnusual(name)
            builder.start("{" + name, _tags(attrs))
            depth += 1
            return
        # A cell of another shape: rebuilt as the element openpyxl's parser would hold, for its cell parser.
        if name in SPECIAL:
            raise SheetUnusual(name)
        builder = TreeBuilder()
        builder.start("{" + cell_tag, _tags(cell_attrs))
        depth = 1
        if value_seen and where != IN_VALUE:
            _leaf(builder, VALUE, value_text)
        if string_seen and where not in (IN_STRING, IN_TEXT):
            builder.start("{" + INLINE_STRING, {})
            if text_seen:
                _leaf(builder, TEXT, string_text)
            builder.end("{" + INLINE_STRING)
        if where == IN_VALUE:
            builder.start("{" + VALUE, {})
            depth += 1
        elif where in (IN_STRING, IN_TEXT):
            builder.start("{" + INLINE_STRING, {})
            depth += 1
            if where == IN_TEXT:
                builder.start("{" + TEXT, {})
                depth += 1
            elif text_seen:
                _leaf(builder, TEXT, string_text)
        if text is not None and where in (IN_VALUE, IN_TEXT):
            builder.data(text)
        builder.start("{" + name, _tags(attrs))
        depth += 1
        where = REBUILDING

    def end(name: str) -> None:
        nonlocal where, value_text, string_text, text, next_row, builder, depth, column
        if where == IN_VALUE:
            value_text = text
            where = IN_CELL
        elif where == IN_TEXT:
            string_text = text
            where = IN_STRING
        elif where == IN_STRING:
            where = IN_CELL
        elif where == IN_CELL:
            if cell_type == "inlineStr":
                value = (string_text or "") if string_seen else None
            else:
                value = value_text
                if value is not None:
                    if cell_type == "n":
                        value = _cast_number(value)
                        if cell_style in date_formats:
                            value = _date(value, epoch, cell_style in timedelta_formats, cell_attrs.get("r"))
                    elif cell_type == "s":
                        value = shared_strings[int(value)]
                    elif cell_type == "b":
                        value = bool(int(value))
                    elif cell_type == "d":
                        value = from_ISO8601(value)
            if 0 < column <= width:
                values[column - 1] = value
            where = IN_ROW
        elif where == IN_ROW:
            if row_number >= next_row:
                rows.append((row_number, tuple(values)))
                next_row = row_number + 1
            where = DATA
        elif where == REBUILDING:
            builder.end("{" + name)
            depth -= 1
            if not depth:
                reader.row_counter = row_number
                reader.col_counter = previous_column
                cell = reader.parse_cell(builder.close())
                builder = None
                column = cell["column"]
                if 0 < column <= width:
                    values[column - 1] = cell["value"]
                where = IN_ROW
        elif where == DATA:
            parse.cut = (cut_start, parser.CurrentByteIndex) if cut_start >= 0 else None
            where = OUTSIDE

    def characters(data: str) -> None:
        nonlocal text
        if where in (IN_VALUE, IN_TEXT):
            text = data if text is None else text + data
        elif where == REBUILDING:
            builder.data(data)

    return start, end, characters


def _tags(attrs: dict[str, str]) -> dict[str, str]:
    """Attributes named as ElementTree names them: `{namespace}local` for a namespaced one."""
    return {("{" + key if SEPARATOR in key else key): value for key, value in attrs.items()}


def _leaf(builder: TreeBuilder, name: str, text: str | None) -> None:
    builder.start("{" + name, {})
    if text is not None:
        builder.data(text)
    builder.end("{" + name)


def _date(value: int | float, epoch: Any, timedelta: bool, coordinate: str | None) -> Any:
    """A number in a date style, as openpyxl's WorkSheetParser.parse_cell reads it."""
    try:
        return from_excel(value, epoch, timedelta=timedelta)
    except (OverflowError, ValueError):
        msg = f"""Cell {coordinate} is marked as a date but the serial value {value} is outside the limits for dates. The cell will be treated as an error."""  # noqa: E501
        warnings.warn(msg, stacklevel=2)
        return "#VALUE!"
