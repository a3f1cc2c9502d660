"""What a file is, from its content: the allow-list of document types (pure, no I/O).

Only PDF, PNG, JPEG and plain text (UTF-8 without control characters) are accepted. The
name must not claim another type: a ZIP or an executable renamed `.pdf` is refused (its
bytes are not a PDF), and so is a PNG renamed `.pdf` (the name lies about it).
"""

import re
import unicodedata

from app.models.documents import MediaType

_MAGIC: tuple[tuple[bytes, MediaType], ...] = (
    (b"%PDF-", MediaType.pdf),
    (b"\x89PNG\r\n\x1a\n", MediaType.png),
    (b"\xff\xd8\xff", MediaType.jpeg),
)
EXTENSIONS: dict[MediaType, tuple[str, ...]] = {
    MediaType.pdf: (".pdf",),
    MediaType.png: (".png",),
    MediaType.jpeg: (".jpg", ".jpeg"),
    MediaType.text: (".txt", ".text"),
}
_ALLOWED_CONTROLS = {"\t", "\n", "\r", "\f"}
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9 ._()-]+")


def sniff(content: bytes) -> MediaType | None:
    """The allowed type the content is, or None (refused)."""
    for magic, media_type in _MAGIC:
        if content.startswith(magic):
            return media_type
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text or any(
        unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS for ch in text
    ):
        return None
    return MediaType.text


def safe_filename(name: str | None, media_type: MediaType) -> str | None:
    """A storable name with the extension of the sniffed type; None when the name claims
    another type."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE_NAME.sub("_", base).strip(" .")[:150] or "document"
    if "." in base:
        stem, ext = base.rsplit(".", 1)
        ext = "." + ext.lower()
        if ext in EXTENSIONS[media_type]:
            return f"{stem}{ext}"
        if any(ext in exts for exts in EXTENSIONS.values()) or len(ext) <= 5:
            return None
    return base + EXTENSIONS[media_type][0]
