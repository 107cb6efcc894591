"""A gettext PO/POT file read so it writes back byte for byte.

The bytes are cut into lines (on ``\\n`` only, so CRLF, a BOM and the declared
charset stay as they are) and the lines into entries: an entry runs from its
first comment to its last ``msgstr`` line, and whatever lies between entries
(blank lines, trailing comments) is kept as bytes. polib reads the same text
for what the entries mean (strings, flags, comments, references, obsolete,
the header); this module only knows where each entry sits, so a writer can
re-emit the entries it changes and copy every other byte.

Where the entries sit is ``po_lex``'s part (lines -> kinds -> spans).
Errors name the line: undecodable bytes for the declared charset, an
unterminated string, a duplicate msgid (+ msgctxt), a msgstr[n] count that
does not match the header's ``nplurals``, and whatever polib refuses.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import polib

from .catalog import CatalogError
from .po_lex import Lexed, lex

__all__ = ["Entry", "PoCatalog", "nplurals", "parse_po"]

# str.splitlines (which polib uses) breaks lines at these too; the PO format
# breaks only at "\n", so polib sees them as private-use stand-ins, put back after.
_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_SHIELD = str.maketrans({c: chr(0x10FF00 + ord(c) % 256) for c in _BREAKS})
_UNSHIELD = str.maketrans({chr(0x10FF00 + ord(c) % 256): c for c in _BREAKS})
_CHARSET = re.compile(rb'^[ \t]*"Content-Type:[^\n]*?charset=[ \t]*([-\w.:]+)', re.MULTILINE)
_NPLURALS = re.compile(r"nplurals\s*=\s*(\d+)")
_OTHER_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry: where it sits (``line``, its raw ``lines`` and their ``kinds``) and what it says.

    ``kinds`` names each line: ``tc`` translator comment, ``gc`` extracted
    comment, ``oc`` reference, ``fl`` flags, ``prev`` a ``#|`` previous string,
    ``ctxt`` / ``id`` / ``plural`` / ``str`` a keyword line or its
    continuation, ``blank``. ``msgstr`` holds one string, or msgstr[0..n-1].
    """

    line: int
    lines: tuple[bytes, ...]
    kinds: tuple[str, ...]
    msgctxt: str | None
    msgid: str
    msgid_plural: str
    msgstr: tuple[str, ...]
    plural: bool
    flags: tuple[str, ...]
    comment: str
    tcomment: str
    references: tuple[str, ...]
    obsolete: bool

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)

    @property
    def fuzzy(self) -> bool:
        return "fuzzy" in self.flags


@dataclass(frozen=True, slots=True)
class PoCatalog:
    """A parsed PO/POT file: its entries and the bytes around them, in file order."""

    path: Path
    bom: bytes
    codec: str  # the Python codec of the declared charset (utf-8 when none or CHARSET)
    newline: str  # the first line's ending, for lines written anew
    parts: tuple[Entry | bytes, ...]
    header: Entry | None
    metadata: Mapping[str, str]
    width: int | None  # how the file wraps strings: 79 (msgmerge), 76 (Babel), None (no wrap)

    def entries(self) -> Iterator[Entry]:
        """The active (not obsolete) entries, header excepted."""
        for part in self.parts:
            if isinstance(part, Entry) and part is not self.header and not part.obsolete:
                yield part

    @property
    def plural_forms(self) -> str | None:
        return self.metadata.get("Plural-Forms")


def parse_po(data: bytes, path: Path) -> PoCatalog:
    """Read ``data`` as a PO/POT file; ``CatalogError`` with the line number if it is not one."""
    bom, body = _split_bom(data, path)
    declared, codec = _charset(body, path)
    raw = [line + b"\n" for line in body.split(b"\n")]
    raw[-1] = raw[-1][:-1]
    if not raw[-1]:
        raw.pop()
    texts = [_decode(line, codec, declared, path, number) for number, line in enumerate(raw, 1)]
    lexed = lex(texts, path)
    shielded = "\n".join(text.translate(_SHIELD) for text in texts) + "\n"
    try:
        read = polib.pofile(shielded, encoding="utf-8")
    except OSError as exc:
        found = re.search(r"line (\d+)", str(exc))
        line = int(found.group(1)) if found else None
        raise CatalogError(path, line, "not a valid gettext entry; check the line") from exc
    metadata = {k.translate(_UNSHIELD): v.translate(_UNSHIELD) for k, v in read.metadata.items()}
    header_at = next((i for i, e in enumerate(lexed) if e.empty_msgid and not e.obsolete), None)
    body_lexed = [e for i, e in enumerate(lexed) if i != header_at]
    if len(body_lexed) != len(read):
        raise CatalogError(path, None, "entries could not be told apart; check blank lines")
    entries = [_entry(e, raw, polib_entry) for e, polib_entry in zip(body_lexed, read, strict=True)]
    header = None
    if header_at is not None:
        header = _header_entry(lexed[header_at], raw, texts, _header_flags(read.metadata_is_fuzzy))
        entries.insert(header_at, header)
    return PoCatalog(
        path=path,
        bom=bom,
        codec=codec,
        newline="\r\n" if raw and raw[0].endswith(b"\r\n") else "\n",
        parts=_assemble(raw, lexed, entries),
        header=header,
        metadata=metadata,
        width=_width(texts, lexed, metadata),
    )


def nplurals(value: str | None) -> int | None:
    """The ``nplurals`` of a ``Plural-Forms`` value (None when absent or ``INTEGER``)."""
    found = _NPLURALS.search(value or "")
    return int(found.group(1)) if found else None


def serialize_po(catalog: PoCatalog) -> bytes:
    """The catalog's bytes: its BOM, then every entry and every byte between them."""
    pieces = [catalog.bom]
    for part in catalog.parts:
        pieces.extend(part.lines if isinstance(part, Entry) else (part,))
    return b"".join(pieces)


def _split_bom(data: bytes, path: Path) -> tuple[bytes, bytes]:
    if data.startswith(codecs.BOM_UTF8):
        return codecs.BOM_UTF8, data[len(codecs.BOM_UTF8) :]
    if data.startswith(_OTHER_BOMS):
        message = "UTF-16/UTF-32 is not a gettext encoding; convert the file to UTF-8 (iconv)"
        raise CatalogError(path, 1, message)
    return b"", data


def _charset(body: bytes, path: Path) -> tuple[str, str]:
    """The charset the header declares and its Python codec (UTF-8 when none or CHARSET)."""
    found = _CHARSET.search(body)
    declared = found.group(1).decode("ascii") if found else "UTF-8"
    if declared.upper() == "CHARSET":
        return declared, "utf-8"
    line = body.count(b"\n", 0, found.start()) + 1 if found else None
    try:
        codec = codecs.lookup(declared).name
        ascii_based = '\n"msgid'.encode(codec, "replace") == b'\n"msgid'
    except LookupError:
        message = f"unknown charset {declared!r}; declare one such as UTF-8 in Content-Type"
        raise CatalogError(path, line, message) from None
    if not ascii_based:
        message = f"charset {declared} is not ASCII-based; convert the file to UTF-8 (iconv)"
        raise CatalogError(path, line, message)
    return declared, codec


def _decode(line: bytes, codec: str, declared: str, path: Path, number: int) -> str:
    content = line[:-1] if line.endswith(b"\n") else line
    content = content[:-1] if content.endswith(b"\r") else content
    try:
        return content.decode(codec)
    except UnicodeDecodeError as exc:
        byte = content[exc.start]
        message = (
            f"byte 0x{byte:02x} at column {exc.start + 1} is not {declared} as the header "
            "declares; fix the charset in Content-Type or convert the file (iconv)"
        )
        raise CatalogError(path, number, message) from None


def _entry(lexed: Lexed, raw: list[bytes], read: polib.POEntry) -> Entry:
    def back(text: str) -> str:
        return text.translate(_UNSHIELD)

    plural = "str" in lexed.kinds and bool(read.msgstr_plural)
    forms = [back(read.msgstr_plural[i]) for i in sorted(read.msgstr_plural)]
    return Entry(
        line=lexed.start + 1,
        lines=tuple(raw[lexed.start : lexed.stop]),
        kinds=lexed.kinds,
        msgctxt=None if read.msgctxt is None else back(read.msgctxt),
        msgid=back(read.msgid),
        msgid_plural=back(read.msgid_plural),
        msgstr=tuple(forms) if plural else (back(read.msgstr),),
        plural=plural,
        flags=tuple(back(flag) for flag in read.flags if flag),
        comment=back(read.comment),
        tcomment=back(read.tcomment),
        references=tuple(back(f"{f}:{n}" if n else f) for f, n in read.occurrences),
        obsolete=bool(read.obsolete),
    )


def _header_entry(
    lexed: Lexed, raw: list[bytes], texts: list[str], flags: tuple[str, ...]
) -> Entry:
    literals = [
        texts[lexed.start + i].strip() for i, kind in enumerate(lexed.kinds) if kind == "str"
    ]
    msgstr = "".join(polib.unescape(lit[lit.index('"') + 1 : -1]) for lit in literals)
    return Entry(
        line=lexed.start + 1,
        lines=tuple(raw[lexed.start : lexed.stop]),
        kinds=lexed.kinds,
        msgctxt=None,
        msgid="",
        msgid_plural="",
        msgstr=(msgstr,),
        plural=False,
        flags=tuple(flag for flag in flags if flag),
        comment="",
        tcomment="",
        references=(),
        obsolete=False,
    )


def _header_flags(flags: object) -> tuple[str, ...]:
    """polib keeps the header's flags in ``metadata_is_fuzzy`` (a list, or 0 without a header)."""
    return tuple(str(flag) for flag in flags) if isinstance(flags, list) else ()


def _assemble(
    raw: list[bytes], lexed: list[Lexed], entries: list[Entry]
) -> tuple[Entry | bytes, ...]:
    parts: list[Entry | bytes] = []
    at = 0
    for span, entry in zip(lexed, entries, strict=True):
        if span.start > at:
            parts.append(b"".join(raw[at : span.start]))
        parts.append(entry)
        at = span.stop
    if at < len(raw):
        parts.append(b"".join(raw[at:]))
    return tuple(parts)


def _width(texts: list[str], lexed: list[Lexed], metadata: Mapping[str, str]) -> int | None:
    """The file's wrapping: no wrap if a string line is longer than 79 columns."""
    longest = max(
        (
            len(texts[span.start + i])
            for span in lexed
            for i, kind in enumerate(span.kinds)
            if kind in ("ctxt", "id", "plural", "str")
        ),
        default=0,
    )
    if longest > 79:
        return None
    return 76 if metadata.get("Generated-By", "").startswith("Babel") else 79
