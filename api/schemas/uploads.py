"""Upload schemas: the multipart file in, the stored image's description out."""
from __future__ import annotations

import marshmallow as ma
from flask_smorest.fields import Upload
from werkzeug.datastructures import FileStorage

from service.i18n import Text
from service.uploads import CONTENT_TYPES, MAX_BYTES, MAX_PIXELS_BY_FORMAT, MAX_SIDE


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
        "and stripped of all metadata (EXIF with GPS position, XMP, colour profiles).")})


class UploadOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    url = ma.fields.String(required=True, metadata={"description": "Where the image can be fetched (with a token)"})
    content_type = ma.fields.String(required=True, metadata={"enum": list(CONTENT_TYPES)})
    width = ma.fields.Integer(required=True, metadata={"description": "Pixels, after re-encoding"})
    height = ma.fields.Integer(required=True, metadata={"description": "Pixels, after re-encoding"})
    size = ma.fields.Integer(required=True, metadata={"description": "Bytes stored"})


# The GET answers the image itself.
IMAGE_BODY = {"type": "string", "format": "binary"}

UPLOAD = {"id": 7, "url": "/api/v1/uploads/7", "content_type": "image/jpeg", "width": 1920, "height": 2560,
          "size": 412803}
