"""Turn an uploaded file (plain text in any common encoding, .docx, HTML) into text.

Offices paste documents saved by many tools: GBK/GB18030 text from older Windows
editors, Word files, and whole web pages. Everything ends here as one ``str``
with one paragraph per line; cleaning and parsing happen later.
"""

from __future__ import annotations

import codecs
import io
import re
from html.parser import HTMLParser
from pathlib import Path

from .model import ParseError

_TEXT_EXT = {".txt", ".text", ".md", ".csv", ""}
_HTML_EXT = {".html", ".htm", ".shtml", ".xhtml", ".jsp", ".asp", ".aspx", ".php"}
_UNSUPPORTED = {".doc", ".wps", ".pdf", ".xls", ".xlsx", ".xlsm", ".ppt", ".pptx", ".rtf", ".ofd"}
_XLSX_EXT = {".xlsx", ".xlsm"}  # read by tables_xlsx (parse_bytes), not as text


def read_path(path: str | Path) -> str:
    return read_bytes(read_file(path), Path(path).name)


def read_file(path: str | Path) -> bytes:
    p = Path(path)
    try:
        return p.read_bytes()
    except OSError as exc:
        raise ParseError(f"无法读取文件 (cannot read file): {p.name}: {exc.strerror or exc}") from exc


def table_file_kind(data: bytes, filename: str = "") -> str | None:
    """``xlsx`` or ``docx`` for the Office files the table readers open, else None."""
    ext = Path(filename or "").suffix.lower()
    if not data or not data.strip() or ext in _UNSUPPORTED - _XLSX_EXT:
        return None
    zipped = data[:2] == b"PK" and ext not in _HTML_EXT | {".docx"}
    if ext in _XLSX_EXT or (zipped and _zip_has(data, "xl/workbook.xml")):
        return "xlsx"
    if ext == ".docx" or (zipped and (ext not in _TEXT_EXT or _zip_has(data, "word/document.xml"))):
        return "docx"
    return None


def _zip_has(data: bytes, name: str) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return name in z.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):  # NotImplementedError: zip version
        return False


def read_bytes(data: bytes, filename: str = "") -> str:
    if not data or not data.strip():
        raise ParseError("文件为空 (empty file)")
    ext = Path(filename or "").suffix.lower()
    if ext in _UNSUPPORTED:
        raise ParseError(f"不支持的文件类型 {ext},请另存为 .docx、.xlsx、.txt 或网页 (unsupported file type)")
    if ext == ".docx" or (data[:2] == b"PK" and (ext not in _TEXT_EXT | _HTML_EXT or _zip_has(data, "word/document.xml"))):
        return docx_to_text(data)
    if ext in _HTML_EXT or (ext not in _TEXT_EXT and _looks_like_html(data)):
        return html_to_text(decode_text(data, _meta_charset(data)))
    text = decode_text(data)
    return html_to_text(text) if _looks_like_html(text[:2000].encode("utf-8", "ignore")) else text


def decode_text(data: bytes, declared: str | None = None) -> str:
    """UTF-8 (with or without BOM) first, then GB18030 (a superset of GBK/GB2312), then detection."""
    for bom, enc in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(enc, errors="replace")
    candidates = [declared] if declared else []
    candidates += ["utf-8", "gb18030"]
    for enc in candidates:
        try:
            return data.decode(_canonical_encoding(enc))
        except (UnicodeDecodeError, LookupError):
            continue
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ParseError("无法识别文件编码,文件可能不是文本 (unknown text encoding)")
    return str(best)


def _canonical_encoding(name: str) -> str:
    name = name.strip().lower()
    return "gb18030" if name in {"gbk", "gb2312", "gb_2312", "x-gbk", "cp936", "gb18030"} else name


def _meta_charset(data: bytes) -> str | None:
    m = re.search(rb"charset\s*=\s*[\"']?([A-Za-z0-9_\-]+)", data[:4096])
    return m.group(1).decode("ascii") if m else None


def _looks_like_html(data: bytes) -> bool:
    head = data[:2000].lower()
    return any(tag in head for tag in (b"<html", b"<!doctype html", b"<body", b"<div", b"<p>", b"<p ", b"<br"))


def docx_to_text(data: bytes) -> str:
    """Paragraphs and table rows in body order; table cells joined with ' | '."""
    try:
        from docx import Document as DocxDocument
        from docx.table import Table
        from docx.text.paragraph import Paragraph

        doc = DocxDocument(io.BytesIO(data))
    except Exception as exc:  # python-docx raises assorted zip/xml/key errors on damaged files
        raise ParseError(f"无法读取 Word 文档 (unreadable .docx): {type(exc).__name__}") from exc
    lines: list[str] = []
    for child in doc.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            lines.append(Paragraph(child, doc).text)
        elif tag == "tbl":
            for row in Table(child, doc).rows:
                cells: list[str] = []
                for cell in row.cells:
                    text = cell.text.strip()
                    if text and (not cells or cells[-1] != text):
                        cells.append(text)
                lines.append(" | ".join(cells))
    return "\n".join(lines)


_SKIP_TAGS = {"script", "style", "noscript", "head", "nav", "header", "footer", "aside", "select",
              "option", "button", "iframe", "svg", "template", "textarea"}
_BLOCK_TAGS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "section",
               "article", "ul", "ol", "dd", "dt", "dl", "blockquote", "pre", "center", "hr", "tbody", "form"}
_CELL_TAGS = {"td", "th"}
_JUNK_CLASS = re.compile(
    r"(?:^|[\s_-])(?:nav|navbar|menu|footer|header|breadcrumb|crumb|share|login|copyright|sidebar|topbar|banner)(?:$|[\s_-])",
    re.I,
)
_VOID_TAGS = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source", "wbr"}


class _TextExtractor(HTMLParser):
    """Collects visible text, dropping scripts, navigation and other page chrome."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_tag: str | None = None
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth += 1
            return
        marks = " ".join(v or "" for k, v in attrs if k in ("class", "id"))
        if tag in _SKIP_TAGS or (tag not in _VOID_TAGS and marks and _JUNK_CLASS.search(marks)):
            if tag not in _VOID_TAGS:
                self._skip_tag, self._skip_depth = tag, 1
            return
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in _CELL_TAGS:
            self.parts.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth -= 1
                if self._skip_depth == 0:
                    self._skip_tag = None
            return
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip_tag is None:
            self.parts.append(data.replace("\n", " ").replace("\r", " "))


def html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = []
    for line in "".join(parser.parts).split("\n"):
        line = re.sub(r"^(?:\s*\|\s*)+|(?:\s*\|\s*)+$", "", line.strip())
        lines.append(line)
    return "\n".join(lines)
