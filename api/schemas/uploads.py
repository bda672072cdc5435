"""Upload schemas: the multipart file in, the stored image's description out."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload
from werkzeug.datastructures import FileStorage

from service.i18n import Text
from service.uploads import (ALL_TYPES, MAX_BYTES, MAX_DOCUMENT_BYTES, MAX_PAGES, MAX_PIXELS_BY_FORMAT,
                             MAX_SIDE)


class FileField(Upload):
    """A multipart file part; the same name sent as a text field is not a file."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, FileStorage):
            raise ma.ValidationError(Text("须为文件（multipart 的文件部分）", "Not a file."))
        return value


class UploadIn(ma.Schema):
    file = FileField(required=True, metadata={"description": (
        f"A JPEG, PNG or WebP image of at most {MAX_BYTES // (1024 * 1024)} MB: a JPEG of at most "
        f"{MAX_PIXELS_BY_FORMAT['JPEG'] / 1e6:.1f} megapixels (8192×6144), a PNG or WebP of at most "
        f"{MAX_PIXELS_BY_FORMAT['PNG'] / 1e6:.1f} (4096×4096). It is re-encoded: turned upright, scaled to at "
        f"most {MAX_SIDE} px on the longest side, "
        "and stripped of all metadata (EXIF with GPS position, XMP, colour profiles). "
        f"Or a PDF of at most {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB and {MAX_PAGES} pages, not encrypted, "
        "without scripts, embedded files or automatic actions: kept byte for byte.")})


class UploadOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    url = ma.fields.String(required=True, metadata={"description": "Where the image can be fetched (with a token)"})
    content_type = ma.fields.String(required=True, metadata={"enum": list(ALL_TYPES)})
    width = ma.fields.Integer(required=True, allow_none=True,
                              metadata={"description": "An image's pixels, after re-encoding; null for a PDF"})
    height = ma.fields.Integer(required=True, allow_none=True,
                               metadata={"description": "An image's pixels, after re-encoding; null for a PDF"})
    pages = ma.fields.Integer(required=True, allow_none=True, metadata={"description": "A PDF's pages; null for an image"})
    name = ma.fields.String(required=True, allow_none=True,
                            metadata={"description": "A PDF's file name as sent; null for an image"})
    size = ma.fields.Integer(required=True, metadata={"description": "Bytes stored"})
    sha256 = ma.fields.String(required=True, metadata={"description": "SHA-256 of the bytes stored"})
    received_sha256 = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "SHA-256 of the bytes you sent (for a PDF the same as `sha256`); null for older uploads"})


# The GET answers the image itself.
IMAGE_BODY = {"type": "string", "format": "binary"}

UPLOAD = {"id": 7, "url": "/api/v1/uploads/7", "content_type": "image/jpeg", "width": 1920, "height": 2560,
          "pages": None, "name": None, "size": 412803,
          "sha256": "9f2c4d0e8b7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c",
          "received_sha256": "0b1c2d3e4f5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"}
