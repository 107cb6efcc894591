"""Apple ``.strings`` tables: ``"key" = "value";``, comments, UTF-8 or UTF-16.

The file's bytes are kept (encoding, BOM, line endings); each value's span is
recorded so a translation is spliced in place. The comment before an entry
(``/* ... */`` or ``//``) is its context, except Xcode's "No comment provided
by engineer."; ``%@``, ``%1$@``, ``%lld`` and the other format specifiers are
its placeholders. A target ``LANG.lproj/NAME.strings`` is the source table in
the source's encoding with the translations in place: Apple shows the key for
a missing entry, so an entry not translated keeps the source text there, and
a target value equal to the source text is sent again. Entries missing from
an existing target are appended with their comments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .catalog import CatalogError, Message, Target

__all__ = ["StringsCatalog", "StringsEntry", "StringsFormat", "decode_text", "printf_placeholders"]

_PRINTF = re.compile(
    r"%(?:\d+\$)?#@\w+@|%%|%(?:\d+\$)?[-+ 0#']*(?:\d+|\*)?(?:\.(?:\d+|\*))?"
    r"(?:hh|h|ll|l|q|z|t|j|L)?[@dDiuUxXoOfFeEgGcCsSpaA]"
)
_UNQUOTED = re.compile(r"[A-Za-z0-9_.$:/-]+")
_SPACE = re.compile(r"\s*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "'": "'", "0": "\0"}
_NO_COMMENT = "No comment provided by engineer."


def printf_placeholders(text: str) -> tuple[str, ...]:
    """The format specifiers of an Apple string: ``%@``, ``%1$@``, ``%lld``, ``%#@n@``."""
    return tuple(found for found in _PRINTF.findall(text) if found != "%%")


def decode_text(data: bytes, path: Path) -> tuple[str, str, bytes]:
    """``(text, encoding, bom)``: UTF-16 by its BOM (or its NUL bytes), else UTF-8."""
    boms = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be", b"\xef\xbb\xbf": "utf-8"}
    bom = next((mark for mark in boms if data.startswith(mark)), b"")
    if bom:
        encoding = boms[bom]
    else:
        odd, even, quarter = data[1::2].count(0), data[0::2].count(0), len(data) // 4
        encoding = "utf-16-le" if odd > quarter else "utf-16-be" if even > quarter else "utf-8"
    try:
        return data[len(bom) :].decode(encoding), encoding, bom
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise CatalogError(
            path, line, f"not valid {encoding}; save the file as UTF-8 or UTF-16"
        ) from exc


def unescape(raw: str) -> str:
    """The text of a quoted ``.strings`` token (quotes excluded)."""

    def one(found: re.Match[str]) -> str:
        char = found.group(1)
        if char[0] in "Uu":
            return chr(int(char[1:], 16))
        return _ESCAPES.get(char, char)

    return re.sub(r"\\([Uu][0-9a-fA-F]{4}|.)", one, raw, flags=re.DOTALL)


def escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\t", "\\t")
        .replace("\r", "\\r")
    )


@dataclass(frozen=True, slots=True)
class StringsEntry:
    key: str
    value: str
    start: int  # the value's quoted token in the text
    end: int
    comment: str


@dataclass(frozen=True, slots=True)
class StringsCatalog:
    path: Path
    text: str
    encoding: str
    bom: bytes
    entries: tuple[StringsEntry, ...]

    def get(self, key: str) -> StringsEntry | None:
        return next((entry for entry in self.entries if entry.key == key), None)

    def encode(self, text: str) -> bytes:
        return self.bom + text.encode(self.encoding)


class _Reader:
    def __init__(self, text: str, path: Path) -> None:
        self.text, self.path, self.pos, self.comment = text, path, 0, ""

    def fail(self, what: str, at: int | None = None) -> CatalogError:
        return CatalogError(
            self.path, self.text.count("\n", 0, self.pos if at is None else at) + 1, what
        )

    def skip(self) -> None:
        """White space and comments; the last comment is remembered for the next entry."""
        while True:
            self.pos = _SPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]
            if self.text.startswith("/*", self.pos):
                end = self.text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail("unclosed /* comment; close it with */")
                self.comment, self.pos = self.text[self.pos + 2 : end].strip(), end + 2
            elif self.text.startswith("//", self.pos):
                end = self.text.find("\n", self.pos)
                end = len(self.text) if end < 0 else end
                self.comment, self.pos = self.text[self.pos + 2 : end].strip(), end
            else:
                return

    def token(self, what: str) -> tuple[str, int, int]:
        start = self.pos
        if self.text.startswith('"', start):
            found = re.compile(r'"((?:[^"\\]|\\.)*)"', re.DOTALL).match(self.text, start)
            if not found:
                raise self.fail(f'unterminated string in {what}; close it with "')
            self.pos = found.end()
            return unescape(found.group(1)), start, self.pos
        found = _UNQUOTED.match(self.text, start)
        if not found:
            raise self.fail(f"expected a quoted {what}")
        self.pos = found.end()
        return found.group(), start, self.pos

    def entries(self) -> list[StringsEntry]:
        out: list[StringsEntry] = []
        seen: set[str] = set()
        while True:
            self.comment = ""
            self.skip()
            if self.pos >= len(self.text):
                return out
            comment, key_at = self.comment, self.pos
            key, _, _ = self.token("key")
            self.skip()
            if not self.text.startswith("=", self.pos):
                raise self.fail(f'expected "=" after the key {key!r}')
            self.pos += 1
            self.skip()
            value, start, end = self.token("value")
            self.skip()
            if not self.text.startswith(";", self.pos):
                raise self.fail(f"missing ';' after the entry {key!r}; end every entry with ;", end)
            self.pos += 1
            if key in seen:
                raise self.fail(f"duplicate key {key!r}; keep one entry per key", key_at)
            seen.add(key)
            out.append(
                StringsEntry(key, value, start, end, "" if comment == _NO_COMMENT else comment)
            )


def _splice(text: str, edits: list[tuple[int, int, str]]) -> str:
    out, pos = [], 0
    for start, end, new in sorted(edits):
        out += [text[pos:start], new]
        pos = end
    return "".join(out) + text[pos:]


class StringsFormat:
    """Apple ``.strings`` (UTF-8 or UTF-16, any line endings)."""

    name = "strings"
    extensions = (".strings",)

    def parse(self, data: bytes, path: Path) -> StringsCatalog:
        text, encoding, bom = decode_text(data, path)
        return StringsCatalog(path, text, encoding, bom, tuple(_Reader(text, path).entries()))

    def serialize(self, catalog: StringsCatalog) -> bytes:
        return catalog.encode(catalog.text)

    def messages(
        self,
        source: StringsCatalog,
        lang: str,
        existing: StringsCatalog | None,
        *,
        overwrite: bool = False,
    ) -> list[Message]:
        out = []
        for entry in source.entries:
            if not entry.value.strip():
                continue
            found = existing.get(entry.key) if existing else None
            now = found.value if found else None
            keep = bool(now) and now != entry.value and not overwrite
            context = {"key": entry.key, **({"comment": entry.comment} if entry.comment else {})}
            out.append(
                Message(
                    entry.key,
                    entry.value,
                    context,
                    None,
                    now,
                    keep,
                    printf_placeholders(entry.value),
                )
            )
        return out

    def render(
        self,
        source: StringsCatalog,
        lang: str,
        existing: StringsCatalog | None,
        translations: Mapping[str, Target],
    ) -> bytes:
        base = existing or source
        edits, added = [], []
        for entry in source.entries:
            if entry.key not in translations:
                continue
            value = '"' + escape(translations[entry.key].text) + '"'
            found = base.get(entry.key)
            if found is not None:
                edits.append((found.start, found.end, value))
            else:
                comment = f"/* {entry.comment} */\n" if entry.comment else ""
                added.append(f'{comment}"{escape(entry.key)}" = {value};\n')
        text = _splice(base.text, edits)
        if added:
            newline = "\r\n" if "\r\n" in base.text else "\n"
            lead = "" if not text or text.endswith("\n") else newline
            text += lead + "".join(newline + chunk.replace("\n", newline) for chunk in added)
        return base.encode(text)

    def target_path(self, source_path: Path, lang: str) -> Path:
        """``en.lproj/Localizable.strings`` or ``Base.lproj/...`` -> ``de.lproj/...``."""
        folder = source_path.parent
        root = folder.parent if folder.suffix == ".lproj" else folder
        return root / f"{lang}.lproj" / source_path.name
