"""Uploaded files: images (photos with a case report) and PDF documents (a notice's or an audit's files).

The kind is detected from the bytes (never the declared type or the file name).
Every image is decoded and re-encoded from its pixels: only JPEG, PNG and WebP
are accepted; EXIF orientation is applied and every piece of metadata (EXIF
with GPS, XMP, ICC, comments) is dropped; large images are scaled down. A PDF
is opened and checked (whole, not encrypted, within the page limit, no scripts,
embedded files or automatic actions) and kept byte for byte, so its SHA-256 is
the one its author holds. Both keep the SHA-256 of what was received.

Images go wherever an upload may go; a document only where its domain says so
(``claim_for(..., documents=True)``): a case's photos are images.

An upload is private to its owner until it is attached to something
(``attached_to = "case:123"``); from then on the rule registered in
``VISIBILITY`` for that kind of object decides who may see it.

The bytes are kept in the storage (``service.storage``: a directory, or S3-compatible object storage),
the row keeps what is known about them (type, size, SHA-256, owner, what it is attached to) and the
storage key. A new upload is written to the storage first and its row second: a row never names an
object that is not there. When the row cannot be written the object is deleted at once; if even that
fails (or the process dies in between) the object is named by no row, and ``purge_orphans`` deletes it
a day later. Rows stored before the storage existed keep their bytes in ``data`` until
``move_to_storage`` (``flask uploads move-to-storage``) moves them.
"""
from __future__ import annotations

import hashlib
import io
import logging
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field as dataclass_field
from datetime import timedelta
from typing import Any, BinaryIO

import sqlalchemy as sa
from sqlalchemy.orm import defer
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
# Registers the decoders Image.open(formats=…) may use (Pillow loads plugins lazily).
from PIL import JpegImagePlugin, PngImagePlugin, WebPImagePlugin  # noqa: F401
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from models.base import db
from models.uploads import Upload
from service import clock, storage
from service.db import reading, transactional
from service.errors import DomainError
from service.platform_errors import (DocumentActive, DocumentCorrupt, DocumentEncrypted, DocumentTooLarge,
                                     DocumentTooManyPages, ImageCorrupt, ImageIdInvalid, ImageTooLarge,
                                     ImageTooManyPixels, TooManyPixels, UnsupportedImageType, UploadAlreadyAttached,
                                     UploadEmpty,
                                     UploadGone, UploadIdInvalid, UploadListedTwice, UploadNotFound,
                                     UploadNotImage, UploadStorageUnavailable)
from service.people import Actor

log = logging.getLogger("linli.uploads")

MAX_BYTES = 10 * 1024 * 1024  # the uploaded file (the request itself is capped by MAX_CONTENT_LENGTH)
# Pixel limits per format, on the width × height the file's header declares: Image.open reads only the
# header, and the limit is checked before any pixel is decoded, so a small file declaring a huge image
# costs nothing (a 154 kB PNG of 6300×6300 took 1.2 s of CPU and 460 MB to decode).
# - JPEG is what phone cameras write: 12 MP (4032×3024) by default, 24 MP on recent iPhones, 48–50 MP
#   (8064×6048, 8160×6144) in a full-resolution mode. The JPEG decoder scales down by 1/2, 1/4 or 1/8 while
#   decoding (``draft``), so such a photo costs about what a 12-MP image does: 8192×6144 is allowed.
#   (200-MP modes write files over MAX_BYTES anyway.)
# - PNG and WebP are decoded pixel by pixel, with no such shortcut. From a phone they are screenshots
#   (about 4 MP; a long scrolling one 1080×15000) or an edited photo of 12–16 MP: 4096×4096 is allowed.
# Pillow's own bomb check (Image.MAX_IMAGE_PIXELS, 89 MP) stays as it is: ours is lower and explicit.
MAX_PIXELS_BY_FORMAT = {"JPEG": 8192 * 6144, "MPO": 8192 * 6144, "PNG": 4096 * 4096, "WEBP": 4096 * 4096}
MAX_PIXELS = max(MAX_PIXELS_BY_FORMAT.values())  # the largest (a JPEG's), for the API description
MAX_SIDE = 2560  # the stored image's longest side
JPEG_QUALITY = 85
WEBP_QUALITY = 85
MAX_ID = 2**63 - 1
ATTACHED_TO_MAX = 32  # models.uploads.Upload.attached_to is String(32)

# Pillow format → (format we write, content type). MPO is how Pillow names the
# JPEGs that many phones write (a main image plus a preview): stored as JPEG.
FORMATS = {"JPEG": ("JPEG", "image/jpeg"), "MPO": ("JPEG", "image/jpeg"),
           "PNG": ("PNG", "image/png"), "WEBP": ("WEBP", "image/webp")}
DECODERS = ["JPEG", "PNG", "WEBP"]
CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp")  # the images
DOCUMENT_TYPE = "application/pdf"
ALL_TYPES = (*CONTENT_TYPES, DOCUMENT_TYPE)
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024  # a PDF (an audit report, a scanned statement)
MAX_PAGES = 500
NAME_MAX = 100  # models.uploads.Upload.name

# Who may see an attached upload: ``VISIBILITY["case"](actor, upload)`` for
# ``attached_to == "case:123"``. A kind with no rule is visible to nobody.
VISIBILITY: dict[str, Callable[[Any, Upload], bool]] = {}

_SRGB = None


def register_visibility(kind: str, rule: Callable[[Any, Upload], bool]) -> None:
    """Let the domain that owns ``kind`` objects decide who sees uploads attached to them."""
    VISIBILITY[kind] = rule


# --- errors ---------------------------------------------------------------------------------------------------

def _too_large(max_bytes: int) -> DomainError:
    return ImageTooLarge(mib=max_bytes / (1024 * 1024))


def _too_many_pixels(max_pixels: int, size: tuple[int, int] | None = None, fmt: str | None = None) -> DomainError:
    mp = f"{max_pixels / 1_000_000:.1f}".removesuffix(".0")
    if size is None:
        return TooManyPixels(mp=mp)
    kind = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WebP"}.get(fmt or "", "")
    return ImageTooManyPixels(width=size[0], height=size[1], kind=kind, mp=mp)


# --- decoding and re-encoding ---------------------------------------------------------------------------------

@dataclass
class Encoded:
    data: bytes
    content_type: str
    width: int | None
    height: int | None
    pages: int | None = None


def _bytes_of(stream_or_bytes: bytes | bytearray | memoryview | BinaryIO, max_bytes: int) -> bytes:
    """The upload's bytes, reading at most one byte past ``max_bytes`` (so a caller can tell it is too large);
    nothing at all is refused."""
    if isinstance(stream_or_bytes, (bytes, bytearray, memoryview)):
        data = bytes(stream_or_bytes)
    else:
        data = stream_or_bytes.read(max_bytes + 1)  # never read more than one byte past the limit
    if not data:
        raise UploadEmpty()
    return data


def _read(stream_or_bytes: bytes | bytearray | memoryview | BinaryIO, max_bytes: int) -> bytes:
    data = _bytes_of(stream_or_bytes, max_bytes)
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    return data


def _looks_like_accepted(data: bytes) -> bool:
    """The signature of a format we accept (so a file that fails to open is damaged, not foreign)."""
    return (data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG\r\n\x1a\n")
            or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"))


def _open(data: bytes, max_pixels: int | None) -> Image.Image:
    """Open (headers only) as one of the accepted formats, and check the declared size against
    ``max_pixels``, or the format's limit when it is None."""
    try:
        # Only the accepted decoders are tried: a GIF, PDF or TIFF is never parsed at all.
        # (The JPEG decoder opens MPO files too; "MPO" is not a format of its own to open.)
        image = Image.open(io.BytesIO(data), formats=DECODERS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(max_pixels or MAX_PIXELS) from None
    except UnidentifiedImageError:
        raise (ImageCorrupt() if _looks_like_accepted(data) else UnsupportedImageType()) from None
    except MemoryError:
        raise
    except Exception:
        raise ImageCorrupt() from None
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageCorrupt()
    limit = max_pixels or MAX_PIXELS_BY_FORMAT[image.format]
    if width * height > limit:
        raise _too_many_pixels(limit, (width, height), image.format)
    return image


def _target_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    longest = max(width, height)
    if longest <= max_side:
        return width, height
    ratio = max_side / longest
    return max(1, round(width * ratio)), max(1, round(height * ratio))


def _normalise_mode(image: Image.Image) -> Image.Image:
    """RGB, RGBA or L: what every output format can hold (and what resizing handles well)."""
    mode = image.mode
    if mode in ("RGB", "RGBA", "L"):
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        return image.convert("I").point(lambda v: v * (1 / 256)).convert("L")  # 16-bit grey, scaled not clipped
    if mode == "1":
        return image.convert("L")
    if mode in ("LA", "La", "PA", "RGBa") or (mode == "P" and image.has_transparency_data):
        return image.convert("RGBA")
    return image.convert("RGB")  # P, CMYK, YCbCr, LAB, HSV …


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """Apply an embedded colour profile (e.g. Display P3 from phones, CMYK) so colours
    stay right once the profile itself is dropped. A broken profile is ignored."""
    global _SRGB
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        if _SRGB is None:
            _SRGB = ImageCms.createProfile("sRGB")
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        output_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=output_mode)
        return converted if converted is not None else image
    except Exception:  # a damaged or unusual profile: keep the pixels as they are
        log.info("ignored an unusable ICC profile")
        return image


def _encode(image: Image.Image, fmt: str) -> bytes:
    # A new image from the pixels alone: nothing of the original's info (EXIF, XMP,
    # ICC, comments, text chunks) can reach the encoder.
    clean = Image.frombytes(image.mode, image.size, image.tobytes())
    out = io.BytesIO()
    if fmt == "JPEG":
        if clean.mode not in ("RGB", "L"):
            clean = clean.convert("RGB")
        clean.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    elif fmt == "WEBP":
        if clean.mode not in ("RGB", "RGBA"):
            clean = clean.convert("RGB")
        clean.save(out, "WEBP", quality=WEBP_QUALITY, method=4)
    else:
        clean.save(out, "PNG", compress_level=6)
    return out.getvalue()


def process_image(data: bytes, *, max_pixels: int | None = None, max_side: int = MAX_SIDE,
                  max_bytes: int = MAX_BYTES) -> Encoded:
    """Decode ``data`` and re-encode it upright, scaled down and without metadata.

    Pure (no database): raises a DomainError naming the field ``file`` for
    anything that is not a whole JPEG, PNG or WebP image within the limits
    (``max_pixels`` for every format, or MAX_PIXELS_BY_FORMAT when None).
    """
    image = _open(data, max_pixels)
    fmt, content_type = FORMATS[image.format]
    icc = image.info.get("icc_profile")
    try:
        if fmt == "JPEG":
            # Let the JPEG decoder scale down by 1/2, 1/4 or 1/8 while decoding: far less memory.
            image.draft(None, _target_size(*image.size, max_side))
        image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels(max_pixels or MAX_PIXELS) from None
    except MemoryError:
        raise
    except Exception:  # truncated, damaged, or a decoder limit hit
        raise ImageCorrupt() from None
    try:
        upright = ImageOps.exif_transpose(image)
    except Exception:  # unreadable EXIF: keep the pixels as stored
        upright = image
    # CMYK goes to sRGB through its own profile when it has one; everything else is RGB(A) or L first.
    image = upright if upright.mode == "CMYK" else _normalise_mode(upright)
    image = _normalise_mode(_to_srgb(image, icc))
    side = max_side
    for _ in range(6):
        scaled = image
        if max(image.size) > side:
            scaled = image.resize(_target_size(*image.size, side), Image.Resampling.LANCZOS, reducing_gap=3.0)
        encoded = _encode(scaled, fmt)
        if len(encoded) <= max_bytes:
            return Encoded(encoded, content_type, scaled.width, scaled.height)
        # A re-encoded image larger than the limit (e.g. a noisy photo saved as PNG): scale down more.
        side = max(1, math.floor(min(side, max(scaled.size)) * 0.7))
    raise _too_large(max_bytes)


# --- documents --------------------------------------------------------------------------------------------------

# Actions a reader would run by itself or on a click, beyond following a link: refused.
_ACTIVE_ACTIONS = {"/JavaScript", "/Launch", "/ImportData", "/SubmitForm", "/ResetForm", "/Rendition", "/GoToE",
                   "/RichMediaExecute"}
_ACTIVE_ANNOTATIONS = {"/FileAttachment", "/RichMedia", "/Screen", "/Movie", "/Sound", "/3D"}

logging.getLogger("pypdf").setLevel(logging.ERROR)  # a damaged file is our answer, not a log line per object


def is_document(data: bytes) -> bool:
    return data.startswith(b"%PDF-")


def _action_active(action) -> bool:
    """An action dictionary (and the actions it chains with /Next) that does more than go somewhere."""
    seen = 0
    while isinstance(action, DictionaryObject) and seen < 50:
        if action.get("/S") in _ACTIVE_ACTIONS:
            return True
        action = action.get("/Next")
        action = action.get_object() if action is not None else None
        seen += 1
    return False


def _active(reader: PdfReader) -> bool:
    """Scripts, embedded files or automatic actions anywhere a reader looks for them."""
    root = reader.trailer["/Root"].get_object()
    if "/AA" in root:
        return True
    open_action = root.get("/OpenAction")
    if open_action is not None and _action_active(open_action.get_object()):
        return True
    names = root.get("/Names")
    names = names.get_object() if names is not None else {}
    if "/JavaScript" in names or "/EmbeddedFiles" in names:
        return True
    form = root.get("/AcroForm")
    if form is not None and "/XFA" in form.get_object():
        return True
    for page in reader.pages:
        if "/AA" in page:
            return True
        for annotation in page.get("/Annots") or []:
            annotation = annotation.get_object()
            if not isinstance(annotation, DictionaryObject):
                continue
            if annotation.get("/Subtype") in _ACTIVE_ANNOTATIONS or "/AA" in annotation:
                return True
            action = annotation.get("/A")
            if action is not None and _action_active(action.get_object()):
                return True
    return False


def process_document(data: bytes, *, max_pages: int = MAX_PAGES) -> Encoded:
    """Check a PDF and keep it as it is. Pure (no database): raises a DomainError naming ``file`` for a PDF that
    cannot be read whole, is encrypted, has more than ``max_pages`` pages, or holds active content."""
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise DocumentEncrypted()
        pages = len(reader.pages)
        if pages < 1:
            raise DocumentCorrupt()
        if pages > max_pages:
            raise DocumentTooManyPages(limit=max_pages, pages=pages)
        active = _active(reader)
    except DomainError:
        raise
    except MemoryError:
        raise
    except Exception:  # noqa: BLE001 - a parser's every complaint about a damaged file is one answer
        raise DocumentCorrupt() from None
    if active:
        raise DocumentActive()
    return Encoded(data, DOCUMENT_TYPE, None, None, pages)


def _file_name(filename: str | None) -> str | None:
    """A document's name as sent, for the reader's download: the last part of a path, no control characters."""
    if not filename:
        return None
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[-NAME_MAX:] or None


# --- the bytes, in the storage -----------------------------------------------------------------------------------

KEY_PREFIX = "uploads/"
_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", DOCUMENT_TYPE: ".pdf"}


def new_key(content_type: str) -> str:
    """A fresh storage key: ``uploads/2026/12/<random>.jpg`` (random, so it can be chosen before the row
    exists and reveals nothing; the month keeps directories small)."""
    now = clock.now()
    return f"{KEY_PREFIX}{now:%Y/%m}/{secrets.token_urlsafe(18)}{_EXTENSIONS.get(content_type, '')}"


def _put(key: str, data: bytes, content_type: str) -> None:
    try:
        storage.current().put(key, data, content_type)
    except storage.StorageError:
        log.warning("storing %s failed", key, exc_info=True)
        raise UploadStorageUnavailable() from None


def _discard(key: str) -> bool:
    """Delete an object no row names (any more); a failure is only logged: ``purge_orphans`` retries it."""
    return storage.discard(key, "the orphan sweep will delete it")


def content(upload: Upload) -> bytes:
    """The bytes of ``upload`` (a row the caller was allowed to see): from the storage, or from the row
    itself while it has not been moved there. A missing object is a 404 (and logged: it should not
    happen); a storage that cannot be reached a 503."""
    key = upload.storage_key
    if key is None:
        # Not moved yet when the row was read. One statement reads both columns: the move sets the key and
        # clears the data in one UPDATE, so this sees either the bytes or the key.
        row = db.session.execute(sa.select(Upload.storage_key, Upload.data).where(Upload.id == upload.id)).first()
        if row is None:
            raise UploadNotFound()
        if row.data is not None:
            return row.data
        key = row.storage_key
    return read(upload.id, key)


def read(upload_id: int, key: str | None, data: bytes | None = None) -> bytes:
    """The bytes of upload ``upload_id``: ``data`` when the row still holds them, else the object ``key``."""
    if data is not None:
        return data
    if key is None:
        log.error("upload %s has neither bytes nor a storage key", upload_id)
        raise UploadNotFound()
    try:
        return storage.current().get(key)
    except storage.ObjectMissing:
        log.error("upload %s: its object %s is missing from %s", upload_id, key, storage.current().describe())
        raise UploadNotFound() from None
    except storage.StorageError:
        log.warning("reading upload %s (%s) failed", upload_id, key, exc_info=True)
        raise UploadStorageUnavailable() from None


def direct_url(upload: Upload, expires: int) -> str | None:
    """A signed link reading the upload's object straight from the storage for ``expires`` seconds, when the
    backend makes such links (S3) and ``expires`` > 0; None otherwise (Linli streams the bytes)."""
    if expires <= 0 or upload.storage_key is None:
        return None
    try:
        return storage.current().url_for(upload.storage_key, expires)
    except Exception:  # noqa: BLE001 - signing is local; anything odd falls back to streaming
        log.warning("signing a link to %s failed; streaming instead", upload.storage_key, exc_info=True)
        return None


# --- use-cases ------------------------------------------------------------------------------------------------

@transactional
def _save(owner_user_id: int, encoded: Encoded, key: str, received_sha256: str, name: str | None = None) -> Upload:
    upload = Upload(owner_user_id=owner_user_id, content_type=encoded.content_type, width=encoded.width,
                    height=encoded.height, pages=encoded.pages, size=len(encoded.data),
                    sha256=hashlib.sha256(encoded.data).hexdigest(), received_sha256=received_sha256,
                    storage_key=key, name=name)
    db.session.add(upload)
    db.session.flush()
    return upload


def store_image(owner_user_id: int, stream_or_bytes: bytes | BinaryIO, filename: str | None = None,
                declared_content_type: str | None = None, *, max_bytes: int = MAX_BYTES,
                max_pixels: int | None = None, max_side: int = MAX_SIDE) -> Upload:
    """Store an image for ``owner_user_id``, unattached: the bytes in the storage, then the row in one
    transaction.

    ``filename`` and ``declared_content_type`` are only logged: the type comes
    from decoding the bytes. This is a use-case of its own: it ends the
    caller's (read) transaction before decoding, so no database lock is held
    during the CPU-heavy work or while the storage is written.
    """
    data = _read(stream_or_bytes, max_bytes)
    db.session.rollback()  # on SQLite a POST's transaction holds the write lock: release it while decoding
    encoded = process_image(data, max_pixels=max_pixels, max_side=max_side, max_bytes=max_bytes)
    return _keep(owner_user_id, encoded, hashlib.sha256(data).hexdigest(), None, declared_content_type, filename)


def store_file(owner_user_id: int, stream_or_bytes: bytes | BinaryIO, filename: str | None = None,
               declared_content_type: str | None = None, *, max_bytes: int = MAX_BYTES,
               max_document_bytes: int = MAX_DOCUMENT_BYTES, max_pages: int = MAX_PAGES) -> Upload:
    """Store an image (as ``store_image`` does) or a PDF document (kept as sent, with its file name), whichever
    the bytes are; each within its own size limit."""
    data = _bytes_of(stream_or_bytes, max(max_bytes, max_document_bytes))  # what was sent decides which limit
    if not is_document(data):
        if len(data) > max_bytes:
            raise _too_large(max_bytes)
        return store_image(owner_user_id, data, filename, declared_content_type, max_bytes=max_bytes)
    if len(data) > max_document_bytes:
        raise DocumentTooLarge(mib=max_document_bytes / (1024 * 1024))
    db.session.rollback()  # as for an image: no transaction held while the file is parsed and stored
    encoded = process_document(data, max_pages=max_pages)
    return _keep(owner_user_id, encoded, hashlib.sha256(data).hexdigest(), _file_name(filename),
                 declared_content_type, filename)


def _keep(owner_user_id: int, encoded: Encoded, received_sha256: str, name: str | None,
          declared_content_type: str | None, filename: str | None) -> Upload:
    """The bytes into the storage, then the row; the object deleted again when the row cannot be written."""
    key = new_key(encoded.content_type)
    _put(key, encoded.data, encoded.content_type)
    try:
        upload = _save(owner_user_id, encoded, key, received_sha256, name)
    except BaseException:
        _discard(key)  # the row was not written: the object goes too (or, failing that, the orphan sweep)
        raise
    log.info("upload %s stored for user %s as %s: %s %sx%s, %s pages, %d bytes (declared %r, %r)", upload.id,
             owner_user_id, key, encoded.content_type, encoded.width, encoded.height, encoded.pages,
             len(encoded.data), declared_content_type, (filename or "")[:100])
    return upload


def _kind(attached_to: str) -> str:
    return attached_to.split(":", 1)[0]


def get_upload(actor: Actor, upload_id: int) -> Upload:
    """The upload if ``actor`` may see it: the owner until it is attached, then whoever the
    attached object's rule allows. Otherwise NotFound, so existence is not revealed."""
    upload = db.session.get(Upload, upload_id) if 1 <= upload_id <= MAX_ID else None
    if upload is None or not _visible(actor, upload):
        raise UploadNotFound()
    return upload


def _visible(actor: Actor, upload: Upload) -> bool:
    if upload.attached_to is None:
        return upload.owner_user_id == actor.user_id
    rule = VISIBILITY.get(_kind(upload.attached_to))
    return bool(rule is not None and rule(actor, upload))


def claim_for(actor_user_id: int, upload_ids: list[int], attached_to: str, *, field: str = "photos",
              documents: bool = False) -> list[Upload]:
    """Attach the actor's own unattached uploads to ``attached_to`` (e.g. ``"case:42"``), in the
    caller's transaction (nothing is committed here). Refuses, naming ``<field>.<index>``, an id
    that does not exist, belongs to someone else, is already attached, or is listed twice, and a PDF
    unless ``documents``.

    Each upload is taken with a conditional UPDATE, so two requests can never attach the same one.
    """
    if not attached_to or ":" not in attached_to or len(attached_to) > ATTACHED_TO_MAX or not _kind(attached_to):
        raise ValueError(f"attached_to must look like 'kind:id' (at most {ATTACHED_TO_MAX} characters)")
    seen: set[int] = set()
    for index, upload_id in enumerate(upload_ids):
        name = f"{field}.{index}"
        if isinstance(upload_id, bool) or not isinstance(upload_id, int) or not 1 <= upload_id <= MAX_ID:
            raise UploadIdInvalid(name)
        if upload_id in seen:
            raise UploadListedTwice(name)
        seen.add(upload_id)
        _take(actor_user_id, upload_id, attached_to, name, documents)
    if not upload_ids:
        return []
    rows = db.session.execute(
        sa.select(Upload).where(Upload.id.in_(upload_ids)).options(defer(Upload.data))
        .execution_options(populate_existing=True)).scalars()
    by_id = {upload.id: upload for upload in rows}
    return [by_id[upload_id] for upload_id in upload_ids]


def attach(actor_user_id: int, upload_id: int, attached_to: str, *, field: str, documents: bool = False) -> None:
    """Attach one upload of the actor's to ``attached_to`` (``"kind:id"``) in the caller's transaction.

    An upload belongs to one object: one already attached to anything (a case, a paper ballot, a motion…),
    someone else's or missing is refused with a 422 naming ``field``. A conditional UPDATE decides (and
    holds the row until the caller commits), so two requests never attach the same upload and the sweep
    of unattached uploads cannot delete it meanwhile."""
    if not attached_to or ":" not in attached_to or len(attached_to) > ATTACHED_TO_MAX or not _kind(attached_to):
        raise ValueError(f"attached_to must look like 'kind:id' (at most {ATTACHED_TO_MAX} characters)")
    if isinstance(upload_id, bool) or not isinstance(upload_id, int) or not 1 <= upload_id <= MAX_ID:
        raise ImageIdInvalid(field)
    _take(actor_user_id, upload_id, attached_to, field, documents)


def _take(actor_user_id: int, upload_id: int, attached_to: str, name: str, documents: bool) -> None:
    """One conditional UPDATE takes the actor's unattached upload for ``attached_to``; else the refusal."""
    kind = () if documents else (Upload.content_type.in_(CONTENT_TYPES),)
    taken = db.session.execute(
        sa.update(Upload)
        .where(Upload.id == upload_id, Upload.owner_user_id == actor_user_id, Upload.attached_to.is_(None), *kind)
        .values(attached_to=attached_to)
        .execution_options(synchronize_session=False)).rowcount
    if taken != 1:
        _refuse(name, upload_id, actor_user_id)


def _refuse(name: str, upload_id: int, actor_user_id: int):
    owner, attached, content_type = db.session.execute(
        sa.select(Upload.owner_user_id, Upload.attached_to, Upload.content_type)
        .where(Upload.id == upload_id)).first() or (None, None, None)
    if owner is None or owner != actor_user_id:
        # Someone else's upload looks exactly like a missing one.
        raise UploadGone(name)
    if attached is None and content_type not in CONTENT_TYPES:
        raise UploadNotImage(name)
    raise UploadAlreadyAttached(name)


PURGE_BATCH = 500


def purge_unattached(older_than: timedelta = timedelta(hours=24), *, batch: int = PURGE_BATCH) -> int:
    """Delete uploads never attached to anything within ``older_than`` (abandoned reports), rows and objects.

    Each batch of rows is deleted in its own transaction, and their objects after it commits: an object is
    never deleted while a row still names it. An object whose deletion fails is left to ``purge_orphans``."""
    cutoff = clock.now() - older_than
    deleted = 0
    while True:
        keys, count = _purge_batch(cutoff, batch)
        for key in keys:
            _discard(key)
        deleted += count
        if count < batch:
            return deleted


@transactional
def _purge_batch(cutoff, batch: int) -> tuple[list[str], int]:
    due = (Upload.attached_to.is_(None), Upload.created_at < cutoff)
    ids = db.session.execute(sa.select(Upload.id).where(*due).order_by(Upload.id).limit(batch)).scalars().all()
    if not ids:
        return [], 0
    # The conditions again: an upload attached meanwhile stays.
    gone = db.session.execute(sa.delete(Upload).where(Upload.id.in_(ids), *due).returning(Upload.storage_key)
                              .execution_options(synchronize_session=False)).scalars().all()
    return [key for key in gone if key is not None], len(ids)


def purge_orphans(older_than: timedelta = timedelta(hours=24), *, batch: int = PURGE_BATCH) -> dict:
    """Delete objects under ``uploads/`` older than ``older_than`` that no row names: left by a row that
    could not be written (and whose object could not be deleted then), by a process that died between
    writing the object and the row, or by a purge whose object deletion failed.

    It lists every object of the storage, so it runs daily, not hourly. An object younger than
    ``older_than`` is never touched: its row may still be on its way."""
    cutoff = clock.now() - older_than
    checked = deleted = 0
    chunk: list[str] = []
    try:
        for item in storage.current().list(KEY_PREFIX):
            checked += 1
            if item.modified_at < cutoff:
                chunk.append(item.key)
            if len(chunk) >= batch:
                deleted += _delete_unnamed(chunk)
                chunk = []
        deleted += _delete_unnamed(chunk)
    except storage.StorageError:
        log.warning("the orphan sweep could not list the storage", exc_info=True)
        raise UploadStorageUnavailable() from None
    return {"checked": checked, "deleted": deleted}


def _delete_unnamed(keys: list[str]) -> int:
    if not keys:
        return 0
    with reading():
        named = set(db.session.execute(sa.select(Upload.storage_key).where(Upload.storage_key.in_(keys))).scalars())
    deleted = 0
    for key in keys:
        if key not in named and _discard(key):
            log.info("deleted %s: no upload names it", key)
            deleted += 1
    return deleted


# --- moving the bytes of older rows into the storage ---------------------------------------------------------

@dataclass
class MoveReport:
    moved: int = 0            # rows whose bytes are now only in the storage
    bytes: int = 0            # their bytes
    mismatched: list[int] = dataclass_field(default_factory=list)  # the row's bytes do not match its sha256
    failed: list[int] = dataclass_field(default_factory=list)      # written, but not read back intact
    raced: int = 0            # moved or deleted by someone else meanwhile
    remaining: int = 0        # rows still holding their bytes after the run
    seconds: float = 0.0
    batches: int = 0


def move_to_storage(*, batch: int = 50, limit: int | None = None, progress: Callable[[MoveReport], None] | None = None
                    ) -> MoveReport:
    """Move the bytes of rows stored before the storage existed (``data`` set, no ``storage_key``) into it.

    Each row's bytes are checked against its SHA-256, written, read back and checked again; only then, for a
    whole batch in one transaction, does the row get its key and lose its bytes (a conditional UPDATE: a row
    moved or deleted meanwhile is left alone and the object just written is deleted). Each batch commits, so
    an interrupted run loses at most one batch's work and a rerun goes on with the rows not moved yet. A row
    whose bytes do not match its checksum, or whose object does not read back intact, keeps its bytes and is
    reported. An object written by a run that died before its batch committed is named by no row:
    ``purge_orphans`` deletes it a day later."""
    started = time.monotonic()
    report = MoveReport()
    after = examined = 0
    while limit is None or examined < limit:
        size = batch if limit is None else min(batch, limit - examined)
        with reading():
            rows = db.session.execute(
                sa.select(Upload.id, Upload.sha256, Upload.content_type, Upload.created_at)
                .where(Upload.storage_key.is_(None), Upload.data.is_not(None), Upload.id > after)
                .order_by(Upload.id).limit(size)).all()
        if not rows:
            break
        after, examined = rows[-1].id, examined + len(rows)
        written = {}
        for row in rows:
            copied = _copy_one(row, report)
            if copied is not None:
                written[row.id] = (copied[0], row.sha256, copied[1])
        if written:
            taken = _record_moves({upload_id: w[:2] for upload_id, w in written.items()})
            for upload_id, (key, _, size) in written.items():
                if upload_id in taken:
                    report.moved += 1
                    report.bytes += size
                else:
                    report.raced += 1
                    _discard(key)
        report.batches += 1
        if progress is not None:
            progress(report)
    with reading():
        report.remaining = db.session.execute(sa.select(sa.func.count()).select_from(Upload).where(
            Upload.storage_key.is_(None), Upload.data.is_not(None))).scalar_one()
    report.seconds = time.monotonic() - started
    return report


def _copy_one(row, report: MoveReport) -> tuple[str, int] | None:
    """Write one row's bytes to a new key and read them back; the key and the size when they came back
    intact."""
    with reading():
        data = db.session.execute(sa.select(Upload.data).where(Upload.id == row.id)).scalar_one_or_none()
    if data is None:  # moved or deleted since the batch was read
        report.raced += 1
        return None
    if hashlib.sha256(data).hexdigest() != row.sha256:
        log.error("upload %s: its bytes do not match its sha256; left in the database", row.id)
        report.mismatched.append(row.id)
        return None
    key = f"{KEY_PREFIX}{row.created_at:%Y/%m}/{secrets.token_urlsafe(18)}{_EXTENSIONS.get(row.content_type, '')}"
    backend = storage.current()
    try:
        backend.put(key, data, row.content_type)
        back = backend.get(key)
    except storage.StorageError:
        log.warning("upload %s: writing or reading back %s failed", row.id, key, exc_info=True)
        report.failed.append(row.id)
        _discard(key)
        return None
    if hashlib.sha256(back).hexdigest() != row.sha256:
        log.error("upload %s: %s did not read back intact; left in the database", row.id, key)
        report.failed.append(row.id)
        _discard(key)
        return None
    return key, len(data)


@transactional
def _record_moves(written: dict[int, tuple[str, str]]) -> set[int]:
    """Give each row its key and drop its bytes, if it still holds the bytes that were copied; the rows
    taken."""
    taken = set()
    for upload_id, (key, sha256) in written.items():
        done = db.session.execute(
            sa.update(Upload)
            .where(Upload.id == upload_id, Upload.storage_key.is_(None), Upload.data.is_not(None),
                   Upload.sha256 == sha256)
            .values(storage_key=key, data=None)
            .execution_options(synchronize_session=False)).rowcount
        if done == 1:
            taken.add(upload_id)
    return taken
