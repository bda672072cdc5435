"""PDF documents: accepted from their bytes, kept byte for byte with their checksum and name, refused when
damaged, encrypted, too long, too large or active; usable on a notice, never as a case's photo."""
from __future__ import annotations

import hashlib
import io

import pytest
import sqlalchemy as sa
from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject, TextStringObject

from models.base import db
from models.uploads import Upload
from service import uploads
from service.errors import InvalidInput
from tests.factories import auth, make_user

URL = "/api/v1/uploads"


@pytest.fixture(autouse=True, params=["file", "s3"])
def backend(request):
    """Each test with the files in a directory and in S3-compatible object storage (a local server)."""
    if request.param == "s3":
        request.getfixturevalue("s3_storage")
    return request.param


def pdf(pages: int = 2, *, javascript: bool = False, attachment: bool = False, password: str | None = None,
        launch: bool = False, link: bool = False, script_link: bool = False) -> bytes:
    """A real PDF written by pypdf: blank pages, with the asked-for extras."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    if javascript:   # a document-level script, in the catalogue's /Names tree
        script = writer._add_object(DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                                                      NameObject("/JS"): TextStringObject("app.alert('hi');")}))
        tree = writer._add_object(DictionaryObject({NameObject("/Names"): ArrayObject([TextStringObject("a"),
                                                                                        script])}))
        writer._root_object[NameObject("/Names")] = DictionaryObject({NameObject("/JavaScript"): tree})
    if script_link:   # a link on a page that runs a script when tapped
        writer.pages[0][NameObject("/Annots")] = ArrayObject([writer._add_object(DictionaryObject({
            NameObject("/Type"): NameObject("/Annot"), NameObject("/Subtype"): NameObject("/Link"),
            NameObject("/Rect"): ArrayObject([NumberObject(0), NumberObject(0), NumberObject(9), NumberObject(9)]),
            NameObject("/A"): DictionaryObject({NameObject("/S"): NameObject("/JavaScript"),
                                                NameObject("/JS"): TextStringObject("app.launchURL('x');")})}))])
    if attachment:
        writer.add_attachment("payload.txt", b"hidden")
    if launch:
        writer._root_object[NameObject("/OpenAction")] = DictionaryObject({
            NameObject("/S"): NameObject("/Launch"), NameObject("/F"): TextStringObject("calc.exe")})
    if link:
        from pypdf.annotations import Link
        from pypdf.generic import RectangleObject
        writer.add_annotation(0, Link(rect=RectangleObject((50, 50, 200, 80)), url="https://www.shanghai.gov.cn"))
    if password:
        writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def post(client, user, data: bytes, filename="2026年度审计报告.pdf", content_type="application/pdf"):
    return client.post(URL, data={"file": (io.BytesIO(data), filename, content_type)},
                       content_type="multipart/form-data", headers=auth(user))


def count() -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(Upload)).scalar()


def refused(response, status: int, code: str):
    assert response.status_code == status, response.json
    assert response.json["error"] == code and "file" in response.json["errors"]
    assert count() == 0  # nothing stored


def test_a_pdf_is_kept_byte_for_byte_with_its_checksum_name_and_pages(client):
    user = make_user()
    data = pdf(3, link=True)   # a plain link is not active content
    response = post(client, user, data, filename="wxfile/tmp/2026年度审计报告.pdf")
    assert response.status_code == 201, response.json
    body = response.json
    digest = hashlib.sha256(data).hexdigest()
    assert body["content_type"] == "application/pdf" and body["pages"] == 3
    assert body["width"] is None and body["height"] is None
    assert body["name"] == "2026年度审计报告.pdf"   # the last part of the path only
    assert body["sha256"] == body["received_sha256"] == digest and body["size"] == len(data)
    fetched = client.get(f"{URL}/{body['id']}", headers=auth(user))
    assert fetched.status_code == 200
    assert fetched.data == data and fetched.mimetype == "application/pdf"
    assert "2026" in fetched.headers["Content-Disposition"] and fetched.headers["ETag"] == f'"{digest}"'
    assert fetched.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"


@pytest.mark.parametrize("extra", ["javascript", "script_link", "attachment", "launch"])
def test_a_pdf_with_scripts_embedded_files_or_automatic_actions_is_refused(client, extra):
    response = post(client, make_user(), pdf(1, **{extra: True}))
    refused(response, 422, "uploads.active_content")
    assert response.json["message"].startswith("PDF 文件含有脚本")


def test_an_encrypted_pdf_is_refused(client):
    refused(post(client, make_user(), pdf(1, password="123456")), 422, "uploads.encrypted")


def test_a_truncated_pdf_is_refused(client):
    data = pdf(2)
    refused(post(client, make_user(), data[: len(data) // 3]), 422, "uploads.corrupt")


def test_the_page_limit_is_exact(client, monkeypatch):
    user = make_user()
    monkeypatch.setattr(uploads, "store_file", _with_pages(uploads.store_file, 4))
    assert post(client, user, pdf(4)).status_code == 201
    assert count() == 1
    response = post(client, user, pdf(5))
    assert response.status_code == 422 and response.json["error"] == "uploads.too_many_pages"
    assert "4" in response.json["message"] and "5" in response.json["message"]
    assert count() == 1


def _with_pages(store, pages):
    def store_file(*args, **kwargs):
        return store(*args, max_pages=pages, **kwargs)
    return store_file


def test_the_size_limit_is_exact_and_names_the_pdf(client, app):
    user = make_user()
    data = pdf(1)
    app.config["UPLOAD_MAX_DOCUMENT_BYTES"] = len(data)
    try:
        assert post(client, user, data).status_code == 201
        response = post(client, user, data + b"\n")
        assert response.status_code == 413 and response.json["error"] == "uploads.too_large"
        assert response.json["message"].startswith("PDF 文件不能超过")
    finally:
        del app.config["UPLOAD_MAX_DOCUMENT_BYTES"]
    assert count() == 1


def test_a_pdf_of_almost_20_mb_passes_the_request_limit_that_other_requests_keep(client, app):
    """The request limit of an upload is the document's (21 MB), while JSON requests keep 12 MB."""
    user = make_user()
    big = b"%PDF-1.4\n" + b"%" + b"x" * (15 * 1024 * 1024)
    response = post(client, user, big)
    assert response.status_code == 422 and response.json["error"] == "uploads.corrupt"  # read, not cut off
    too_big = b"%PDF-1.4\n" + b"x" * (20 * 1024 * 1024)
    response = post(client, user, too_big)
    assert response.status_code == 413 and response.json["error"] == "uploads.too_large"
    assert response.json["message"] == "PDF 文件不能超过 20 MB"
    json_body = client.post("/api/v1/notices", data=b'{"title": "' + b"x" * (13 * 1024 * 1024) + b'"}',
                            content_type="application/json", headers=auth(user))
    assert json_body.status_code == 413


def test_a_pdf_is_never_a_cases_photo():
    user = make_user()
    document = uploads.store_file(user.id, pdf(1), "a.pdf")
    with pytest.raises(InvalidInput) as refusal:
        uploads.claim_for(user.id, [document.id], "case:1")
    assert refusal.value.code == "uploads.not_image" and "photos.0" in refusal.value.errors
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Upload, document.id).attached_to is None
    uploads.claim_for(user.id, [document.id], "notice:1", field="attachments", documents=True)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Upload, document.id).attached_to == "notice:1"
