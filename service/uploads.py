"""Uploaded images (photos with a case report).

Every upload is decoded and re-encoded from its pixels: only JPEG, PNG and
WebP are accepted, as detected from the bytes (never the declared type or the
file name); EXIF orientation is applied and every piece of metadata (EXIF with
GPS, XMP, ICC, comments) is dropped; large images are scaled down.

An upload is private to its owner until it is attached to something
(``attached_to = "case:123"``); from then on the rule registered in
``VISIBILITY`` for that kind of object decides who may see it.
"""
from __future__ import annotations

import hashlib
import io
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, BinaryIO

import sqlalchemy as sa
from sqlalchemy.orm import defer
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
# Registers the decoders Image.open(formats=…) may use (Pillow loads plugins lazily).
from PIL import JpegImagePlugin, PngImagePlugin, WebPImagePlugin  # noqa: F401

from models.base import db
from models.uploads import Upload
from service import clock
from service.db import transactional
from service.errors import DomainError
from service.platform_errors import (ImageCorrupt, ImageIdInvalid, ImageTooLarge, ImageTooManyPixels,
                                     TooManyPixels, UnsupportedImageType, UploadAlreadyAttached, UploadEmpty,
                                     UploadGone, UploadIdInvalid, UploadListedTwice, UploadNotFound)
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
CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp")

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
    width: int
    height: int


def _read(stream_or_bytes: bytes | bytearray | memoryview | BinaryIO, max_bytes: int) -> bytes:
    if isinstance(stream_or_bytes, (bytes, bytearray, memoryview)):
        data = bytes(stream_or_bytes)
    else:
        data = stream_or_bytes.read(max_bytes + 1)  # never read more than one byte past the limit
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    if not data:
        raise UploadEmpty()
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


# --- use-cases ------------------------------------------------------------------------------------------------

@transactional
def _save(owner_user_id: int, encoded: Encoded) -> Upload:
    upload = Upload(owner_user_id=owner_user_id, content_type=encoded.content_type, width=encoded.width,
                    height=encoded.height, size=len(encoded.data), sha256=hashlib.sha256(encoded.data).hexdigest(),
                    data=encoded.data)
    db.session.add(upload)
    db.session.flush()
    return upload


def store_image(owner_user_id: int, stream_or_bytes: bytes | BinaryIO, filename: str | None = None,
                declared_content_type: str | None = None, *, max_bytes: int = MAX_BYTES,
                max_pixels: int | None = None, max_side: int = MAX_SIDE) -> Upload:
    """Store an image for ``owner_user_id``, unattached, in one transaction.

    ``filename`` and ``declared_content_type`` are only logged: the type comes
    from decoding the bytes. This is a use-case of its own: it ends the
    caller's (read) transaction before decoding, so no database lock is held
    during the CPU-heavy work.
    """
    data = _read(stream_or_bytes, max_bytes)
    db.session.rollback()  # on SQLite a POST's transaction holds the write lock: release it while decoding
    encoded = process_image(data, max_pixels=max_pixels, max_side=max_side, max_bytes=max_bytes)
    upload = _save(owner_user_id, encoded)
    log.info("upload %s stored for user %s: %s %dx%d, %d bytes (declared %r, %r)", upload.id, owner_user_id,
             encoded.content_type, encoded.width, encoded.height, len(encoded.data), declared_content_type,
             (filename or "")[:100])
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


def claim_for(actor_user_id: int, upload_ids: list[int], attached_to: str, *, field: str = "photos") -> list[Upload]:
    """Attach the actor's own unattached uploads to ``attached_to`` (e.g. ``"case:42"``), in the
    caller's transaction (nothing is committed here). Refuses, naming ``<field>.<index>``, an id
    that does not exist, belongs to someone else, is already attached, or is listed twice.

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
        _take(actor_user_id, upload_id, attached_to, name)
    if not upload_ids:
        return []
    rows = db.session.execute(
        sa.select(Upload).where(Upload.id.in_(upload_ids)).options(defer(Upload.data))
        .execution_options(populate_existing=True)).scalars()
    by_id = {upload.id: upload for upload in rows}
    return [by_id[upload_id] for upload_id in upload_ids]


def attach(actor_user_id: int, upload_id: int, attached_to: str, *, field: str) -> None:
    """Attach one upload of the actor's to ``attached_to`` (``"kind:id"``) in the caller's transaction.

    An upload belongs to one object: one already attached to anything (a case, a paper ballot, a motion…),
    someone else's or missing is refused with a 422 naming ``field``. A conditional UPDATE decides (and
    holds the row until the caller commits), so two requests never attach the same upload and the sweep
    of unattached uploads cannot delete it meanwhile."""
    if not attached_to or ":" not in attached_to or len(attached_to) > ATTACHED_TO_MAX or not _kind(attached_to):
        raise ValueError(f"attached_to must look like 'kind:id' (at most {ATTACHED_TO_MAX} characters)")
    if isinstance(upload_id, bool) or not isinstance(upload_id, int) or not 1 <= upload_id <= MAX_ID:
        raise ImageIdInvalid(field)
    _take(actor_user_id, upload_id, attached_to, field)


def _take(actor_user_id: int, upload_id: int, attached_to: str, name: str) -> None:
    """One conditional UPDATE takes the actor's unattached upload for ``attached_to``; else the refusal."""
    taken = db.session.execute(
        sa.update(Upload)
        .where(Upload.id == upload_id, Upload.owner_user_id == actor_user_id, Upload.attached_to.is_(None))
        .values(attached_to=attached_to)
        .execution_options(synchronize_session=False)).rowcount
    if taken != 1:
        _refuse(name, upload_id, actor_user_id)


def _refuse(name: str, upload_id: int, actor_user_id: int):
    owner, attached = db.session.execute(
        sa.select(Upload.owner_user_id, Upload.attached_to).where(Upload.id == upload_id)).first() or (None, None)
    if owner is None or owner != actor_user_id:
        # Someone else's upload looks exactly like a missing one.
        raise UploadGone(name)
    raise UploadAlreadyAttached(name)


@transactional
def purge_unattached(older_than: timedelta = timedelta(hours=24)) -> int:
    """Delete uploads never attached to anything within ``older_than`` (abandoned reports)."""
    result = db.session.execute(sa.delete(Upload).where(Upload.attached_to.is_(None),
                                                        Upload.created_at < clock.now() - older_than))
    return result.rowcount or 0
