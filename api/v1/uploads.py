"""Uploaded files: photos for case reports, PDF documents and images for notices and audits; upload one
(multipart), fetch one back."""
from __future__ import annotations

from flask import Response, current_app, redirect, request, url_for
from flask.views import MethodView

from api.docs import errors
from api.extensions import Blueprint
from api.schemas.uploads import IMAGE_BODY, UPLOAD, UploadIn, UploadOut
from api.security import auth_required, current_actor
from service import uploads

blp = Blueprint("uploads", __name__, url_prefix="/api/v1",
                description="Photos attached to case reports; PDF documents and images attached to notices and audits")

ID = "<int(min=1, max=9223372036854775807):upload_id>"
IMAGE_DESCRIPTION = "The image itself, as stored (JPEG, PNG or WebP)"
DOCUMENT_DESCRIPTION = "The PDF document, byte for byte as it was uploaded (its SHA-256 is the ETag)"


@blp.before_request
def _document_size():
    """An upload may be a PDF of up to 20 MB; every other request keeps the application's smaller limit."""
    if request.method == "POST":
        request.max_content_length = current_app.config.get("UPLOAD_MAX_CONTENT_LENGTH",
                                                            current_app.config["MAX_CONTENT_LENGTH"])


@blp.route("/uploads")
class Uploads(MethodView):
    # The token is checked before the multipart body is parsed.
    @auth_required()
    @blp.arguments(UploadIn, location="files")
    @blp.response(201, UploadOut, example=UPLOAD)
    @errors(blp, 401, 413, 415, 422, 429)
    def post(self, args):
        """Upload a photo or a PDF

        Send `multipart/form-data` with the file in the field `file` (what
        `wx.uploadFile` does with `name: "file"`). What it is comes from its
        bytes, not its name or declared type. An image is re-encoded without
        any metadata; a PDF is checked and kept byte for byte. It stays
        private to you until it is attached: a photo to a report (its `id` in
        the report's `photos`), a PDF or an image to a notice or an audit (in
        `attachments`). A report's photos cannot be PDFs. `received_sha256`
        is the SHA-256 of what you sent. Honours `Idempotency-Key`.
        """
        file = args["file"]
        config = current_app.config
        upload = uploads.store_file(current_actor().user_id, file.stream, file.filename, file.mimetype,
                                    max_bytes=config.get("UPLOAD_MAX_BYTES", uploads.MAX_BYTES),
                                    max_document_bytes=config.get("UPLOAD_MAX_DOCUMENT_BYTES",
                                                                  uploads.MAX_DOCUMENT_BYTES))
        return _describe(upload)


@blp.route(f"/uploads/{ID}", endpoint="image")
class UploadImage(MethodView):
    @blp.response(200, IMAGE_BODY, content_type="image/jpeg", description=IMAGE_DESCRIPTION)
    @blp.alt_response(200, schema=IMAGE_BODY, content_type="image/png", description=IMAGE_DESCRIPTION, success=True)
    @blp.alt_response(200, schema=IMAGE_BODY, content_type="image/webp", description=IMAGE_DESCRIPTION, success=True)
    @blp.alt_response(200, schema=IMAGE_BODY, content_type="application/pdf", description=DOCUMENT_DESCRIPTION,
                      success=True)
    @blp.alt_response(302, description="Only on a server with object storage and `STORAGE_REDIRECT_SECONDS`: "
                      "`Location` is a link reading the image directly, signed for that many seconds", success=True)
    @blp.alt_response(304, description="`If-None-Match` named the image's ETag: the copy you have is current",
                      success=True)
    @errors(blp, 401, 404, 503)
    @auth_required()
    def get(self, upload_id):
        """Fetch a photo or a document

        Your own uploads, and uploads attached to something you may see (a
        case in your scope, a notice you received). Anything else is 404. Where the server is set up
        so (object storage with `STORAGE_REDIRECT_SECONDS`), the answer is a
        302 to a link that reads the image directly and expires shortly.
        """
        upload = uploads.get_upload(current_actor(), upload_id)
        if upload.sha256 in request.if_none_match:  # the client has it: nothing to read from the storage
            response = Response(status=304)
        else:
            link = uploads.direct_url(upload, current_app.config.get("STORAGE_REDIRECT_SECONDS", 0))
            if link is not None:
                response = redirect(link, 302)
                response.headers["Cache-Control"] = "private, no-store"  # the link expires
                return response
            response = Response(uploads.content(upload), status=200, mimetype=upload.content_type)
            if upload.name:
                response.headers.set("Content-Disposition", "inline", filename=upload.name)
        response.headers["Cache-Control"] = "private, max-age=3600"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response.set_etag(upload.sha256)
        return response


def _describe(upload) -> dict:
    return {"id": upload.id, "url": url_for("uploads.image", upload_id=upload.id),
            "content_type": upload.content_type, "width": upload.width, "height": upload.height,
            "pages": upload.pages, "name": upload.name, "size": upload.size, "sha256": upload.sha256,
            "received_sha256": upload.received_sha256}
