"""Uploads: images checked from their bytes, re-encoded upright without metadata, private to
their owner until attached; real HTTP through the test client and a real database."""
from __future__ import annotations

import hashlib
import io
import struct
import zlib

import pytest
import sqlalchemy as sa
from PIL import Image, ImageCms, PngImagePlugin

from models.base import db
from models.uploads import Upload
from service import people, storage, uploads
from service.errors import DomainError, InvalidInput, NotFound
from tests.factories import auth, make_user

URL = "/api/v1/uploads"
GPS = {1: "N", 2: (31.0, 14.0, 30.0), 3: "E", 4: (121.0, 28.0, 10.0)}  # near 万里街道
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>GPSLatitude 31,14.5N</rdf:RDF></x:xmpmeta>'


@pytest.fixture(autouse=True, params=["file", "s3"])
def backend(request):
    """Every test here runs twice: with the files in a directory, and in S3-compatible object storage (a local
    server, through the client production uses)."""
    if request.param == "s3":
        request.getfixturevalue("s3_storage")
    return request.param


# --- building images in memory ----------------------------------------------------------------------------------

def encode(image: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def gps_exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "Apple"  # Make
    exif[0x0110] = "iPhone 15"  # Model
    exif[0x8825] = dict(GPS)  # GPSInfo IFD
    if orientation is not None:
        exif[0x0112] = orientation
    return exif


def two_halves(size=(20, 10), left="red", right="blue", mode="RGB") -> Image.Image:
    """Left half ``left``, right half ``right``: shows where a rotation put things."""
    image = Image.new(mode, size, right)
    image.paste(Image.new(mode, (size[0] // 2, size[1]), left), (0, 0))
    return image


def photo_with_gps(orientation=6) -> bytes:
    """A 20×10 JPEG as a phone writes it: EXIF with GPS and an orientation, XMP, a comment, an ICC profile."""
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encode(two_halves(), "JPEG", exif=gps_exif(orientation), xmp=XMP, comment=b"taken at home",
                  icc_profile=icc, quality=95)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int, height: int) -> bytes:
    """A valid one-bit, one-colour PNG of ``width``×``height``: a few kB that would decode to many megabytes."""
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


def post(client, user, data: bytes, filename="photo.jpg", content_type="image/jpeg", **headers):
    return client.post(URL, data={"file": (io.BytesIO(data), filename, content_type)},
                       content_type="multipart/form-data", headers=auth(user, **headers))


def fetch(client, user, upload_id):
    return client.get(f"{URL}/{upload_id}", headers=auth(user))


def stored(client, user, body: dict) -> Image.Image:
    response = fetch(client, user, body["id"])
    assert response.status_code == 200
    return Image.open(io.BytesIO(response.data))


def count_uploads() -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(Upload)).scalar_one()


def assert_file_error(response, status: int, code: str):
    assert response.status_code == status, response.json
    assert response.json["code"] == status
    assert response.json["error"] == code
    assert "file" in response.json["errors"]
    assert response.json["message"]


# --- accepted images --------------------------------------------------------------------------------------------

def test_a_phone_photo_is_stored_upright_and_without_gps_or_any_metadata(client):
    user = make_user(name="王秀英")
    original = photo_with_gps(orientation=6)
    before = Image.open(io.BytesIO(original))
    assert before.getexif().get_ifd(0x8825)[2] == (31.0, 14.0, 30.0)  # the test image really carries GPS
    assert {"exif", "xmp", "comment", "icc_profile"} <= set(before.info)

    response = post(client, user, original)
    assert response.status_code == 201, response.json
    body = response.json
    assert set(body) == {"id", "url", "content_type", "width", "height", "pages", "name", "size", "sha256",
                         "received_sha256"}
    assert body["pages"] is None and body["name"] is None  # an image: no pages, and its file name is not kept
    assert body["received_sha256"] == hashlib.sha256(original).hexdigest() != body["sha256"]  # re-encoded
    assert body["url"] == f"/api/v1/uploads/{body['id']}"
    assert body["content_type"] == "image/jpeg"
    assert (body["width"], body["height"]) == (10, 20)  # Orientation=6 applied: 20×10 became 10×20

    got = fetch(client, user, body["id"])
    assert got.status_code == 200
    assert got.mimetype == "image/jpeg"
    assert "private" in got.headers["Cache-Control"]
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert len(got.data) == body["size"]
    assert b"Exif" not in got.data and b"GPS" not in got.data and b"xmpmeta" not in got.data
    image = Image.open(io.BytesIO(got.data))
    assert image.format == "JPEG" and image.size == (10, 20)
    assert len(image.getexif()) == 0
    assert not {"exif", "xmp", "comment", "icc_profile"} & set(image.info)
    # Orientation 6 means "rotate 90° clockwise to view": the left (red) half ends on top.
    top, bottom = image.convert("RGB").getpixel((5, 2)), image.convert("RGB").getpixel((5, 17))
    assert top[0] > 200 and top[2] < 60, top
    assert bottom[2] > 200 and bottom[0] < 60, bottom

    row = db.session.get(Upload, body["id"])
    assert row.owner_user_id == user.id and row.attached_to is None
    assert row.sha256 == hashlib.sha256(got.data).hexdigest() and row.size == len(got.data)
    # The bytes are in the storage, not in the database.
    assert row.data is None and row.storage_key.startswith("uploads/")
    assert storage.current().get(row.storage_key) == got.data


@pytest.mark.parametrize("orientation, size", [(1, (20, 10)), (3, (20, 10)), (8, (10, 20))])
def test_other_orientations_are_applied(client, orientation, size):
    user = make_user()
    response = post(client, user, photo_with_gps(orientation))
    assert response.status_code == 201
    assert (response.json["width"], response.json["height"]) == size
    assert len(stored(client, user, response.json).getexif()) == 0


def test_png_is_accepted_keeps_transparency_and_loses_its_text_and_exif(client):
    user = make_user()
    image = Image.new("RGBA", (30, 20), (0, 128, 0, 0))
    image.paste(Image.new("RGBA", (10, 20), (0, 128, 0, 255)), (0, 0))
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "家里的地址")
    response = post(client, user, encode(image, "PNG", exif=gps_exif(), pnginfo=text), "shot.png", "image/png")
    assert response.status_code == 201, response.json
    assert response.json["content_type"] == "image/png"
    back = stored(client, user, response.json)
    assert back.format == "PNG" and back.size == (30, 20) and back.mode == "RGBA"
    assert back.getpixel((25, 5))[3] == 0 and back.getpixel((5, 5))[3] == 255
    assert len(back.getexif()) == 0 and "Comment" not in back.info and "exif" not in back.info


def test_webp_is_accepted_without_its_exif(client):
    user = make_user()
    data = encode(two_halves((40, 30)), "WEBP", exif=gps_exif(orientation=6), xmp=XMP)
    response = post(client, user, data, "photo.webp", "image/webp")
    assert response.status_code == 201, response.json
    assert response.json["content_type"] == "image/webp"
    assert (response.json["width"], response.json["height"]) == (30, 40)
    back = stored(client, user, response.json)
    assert back.format == "WEBP" and len(back.getexif()) == 0
    assert not {"exif", "xmp", "icc_profile"} & set(back.info)


def test_the_type_comes_from_the_bytes_not_the_name_or_declared_type(client):
    user = make_user()
    response = post(client, user, encode(Image.new("RGB", (8, 8), "white"), "PNG"), "photo.jpg", "image/jpeg")
    assert response.status_code == 201 and response.json["content_type"] == "image/png"


def test_a_multi_picture_jpeg_from_a_phone_is_stored_as_jpeg(client):
    user = make_user()
    data = encode(two_halves(), "MPO", save_all=True, append_images=[Image.new("RGB", (20, 10), "green")],
                  exif=gps_exif())
    assert Image.open(io.BytesIO(data)).format == "MPO"
    response = post(client, user, data)
    assert response.status_code == 201, response.json
    back = stored(client, user, response.json)
    assert back.format == "JPEG" and len(back.getexif()) == 0 and getattr(back, "n_frames", 1) == 1


def test_cmyk_and_palette_images_are_converted(client):
    user = make_user()
    cmyk = post(client, user, encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG"))
    assert cmyk.status_code == 201
    back = stored(client, user, cmyk.json)
    assert back.mode == "RGB" and back.getpixel((8, 8))[0] > 200
    palette = post(client, user, encode(Image.new("RGB", (16, 16), "blue").convert("P"), "PNG"), "p.png")
    assert palette.status_code == 201 and stored(client, user, palette.json).mode in ("RGB", "RGBA")


def test_sixteen_bit_grey_is_scaled_not_clipped(client):
    user = make_user()
    response = post(client, user, encode(Image.new("I;16", (8, 8), 30000), "PNG"), "grey.png")
    assert response.status_code == 201
    value = stored(client, user, response.json).convert("L").getpixel((4, 4))
    assert 110 <= value <= 125  # 30000/256 ≈ 117, not 255


def test_large_images_are_scaled_down_to_the_maximum_side(client):
    user = make_user()
    png = post(client, user, encode(Image.new("RGB", (3000, 1000), "white"), "PNG"), "wide.png")
    assert png.status_code == 201
    assert (png.json["width"], png.json["height"]) == (uploads.MAX_SIDE, 853)
    # A wide JPEG goes through the decoder's own down-scaling first.
    jpeg = post(client, user, encode(two_halves((5200, 100)), "JPEG"))
    assert jpeg.status_code == 201
    assert (jpeg.json["width"], jpeg.json["height"]) == (uploads.MAX_SIDE, 49)
    assert stored(client, user, jpeg.json).size == (uploads.MAX_SIDE, 49)


# --- refused files ----------------------------------------------------------------------------------------------

def test_gif_is_refused(client):
    user = make_user()
    data = encode(Image.new("P", (8, 8)), "GIF")
    assert_file_error(post(client, user, data, "cat.gif", "image/gif"), 415, "uploads.unsupported_type")
    assert count_uploads() == 0


def test_a_pdf_that_cannot_be_read_is_refused(client):
    user = make_user()
    data = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    assert_file_error(post(client, user, data, "report.pdf", "application/pdf"), 422, "uploads.corrupt")
    assert count_uploads() == 0


def test_text_pretending_to_be_a_jpeg_is_refused(client):
    user = make_user()
    response = post(client, user, "这不是图片 <script>alert(1)</script>".encode(), "photo.jpg", "image/jpeg")
    assert_file_error(response, 415, "uploads.unsupported_type")
    english = client.post(URL, data={"file": (io.BytesIO(b"hello"), "a.jpg", "image/jpeg")},
                          content_type="multipart/form-data", headers=auth(user, **{"Accept-Language": "en"}))
    assert english.json["message"] == "Only JPEG, PNG or WebP images and PDF documents are accepted"
    assert response.json["message"] == "仅支持 JPEG、PNG、WebP 格式的图片或 PDF 文件"


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_a_truncated_jpeg_is_refused(client, cut):
    user = make_user()
    whole = encode(Image.effect_noise((200, 200), 60).convert("RGB"), "JPEG", quality=90)
    assert_file_error(post(client, user, whole[:int(len(whole) * cut)]), 422, "uploads.corrupt")
    assert count_uploads() == 0


def test_a_file_with_an_image_signature_but_garbage_after_it_is_corrupt(client):
    user = make_user()
    assert_file_error(post(client, user, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "x.png"), 422, "uploads.corrupt")


def test_an_empty_file_is_refused(client):
    user = make_user()
    assert_file_error(post(client, user, b""), 422, "uploads.empty")


def test_a_decompression_bomb_is_refused_before_decoding(client):
    user = make_user()
    bomb = png_bomb(20000, 20000)  # 400 megapixels in a few kilobytes
    assert len(bomb) < 100_000
    assert_file_error(post(client, user, bomb, "bomb.png", "image/png"), 422, "uploads.too_many_pixels")


def test_an_image_over_the_pixel_limit_is_refused(client):
    user = make_user()
    # 48 megapixels: over our limit, under Pillow's own bomb threshold.
    assert_file_error(post(client, user, png_bomb(8000, 6000), "big.png", "image/png"), 422,
                      "uploads.too_many_pixels")
    assert count_uploads() == 0


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width``×``height`` and whose pixel data is not even zlib: decoding it
    can only fail (``uploads.corrupt``), so a refusal for its size was made from the header alone."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", b"not zlib data")
            + png_chunk(b"IEND", b""))


def jpeg_declaring(width: int, height: int) -> bytes:
    """A 16×16 JPEG whose frame header (SOF0) is rewritten to declare ``width``×``height``: decoding it
    can only fail, for the data is a 16×16 image's."""
    data = bytearray(encode(Image.new("L", (16, 16), 128), "JPEG"))
    sof = data.index(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def webp_declaring(width: int, height: int) -> bytes:
    """A 16×16 lossless WebP whose VP8L header is rewritten to declare ``width``×``height``."""
    data = bytearray(encode(Image.new("L", (16, 16), 128), "WEBP", lossless=True))
    at = data.index(b"VP8L") + 9            # chunk id, size, then the 0x2f signature byte
    bits = int.from_bytes(data[at:at + 4], "little") & ~((1 << 28) - 1)
    data[at:at + 4] = (bits | (width - 1) | ((height - 1) << 14)).to_bytes(4, "little")
    return bytes(data)


def test_a_small_png_of_40_megapixels_is_refused(client):
    user = make_user()
    # 6300×6300 (39.7 megapixels) in a few kilobytes: decoding it took over a second and hundreds of MB.
    big = png_bomb(6300, 6300)
    assert len(big) < 200_000
    response = post(client, user, big, "big.png", "image/png")
    assert_file_error(response, 422, "uploads.too_many_pixels")
    assert "6300×6300" in response.json["message"] and "像素" in response.json["message"]
    english = post(client, user, big, "big.png", "image/png", **{"Accept-Language": "en"})
    assert "6300×6300" in english.json["message"] and "pixels" in english.json["message"]
    assert count_uploads() == 0


TOO_MANY, DAMAGED = "uploads.too_many_pixels", "uploads.corrupt"


@pytest.mark.parametrize("make, width, height, outcome", [
    (png_declaring, 6300, 6300, TOO_MANY),
    (png_declaring, 4096, 4097, TOO_MANY),     # one row over 4096×4096
    (png_declaring, 4096, 4096, DAMAGED),      # at the limit: decoded, and found damaged
    (png_declaring, 1080, 15500, DAMAGED),     # a long phone screenshot is not too big
    (webp_declaring, 6300, 6300, TOO_MANY),
    (webp_declaring, 4097, 4096, TOO_MANY),
    (jpeg_declaring, 8192, 6145, TOO_MANY),    # over 8192×6144
    (jpeg_declaring, 16320, 12240, TOO_MANY),  # a 200-megapixel mode
    # 48 and 50 megapixels, what phones write in their full-resolution modes: decoded (libjpeg fills
    # what the 16×16 data lacks) at half size.
    (jpeg_declaring, 8064, 6048, 201),
    (jpeg_declaring, 8160, 6144, 201),
])
def test_the_pixel_limit_is_read_from_the_header_before_decoding(client, make, width, height, outcome):
    user = make_user()
    response = post(client, user, make(width, height))
    if outcome == 201:
        assert response.status_code == 201, response.json
        assert response.json["width"] == uploads.MAX_SIDE
    else:
        assert_file_error(response, 422, outcome)


def test_a_48_megapixel_phone_jpeg_is_accepted_and_scaled_down(client):
    user = make_user()
    response = post(client, user, encode(Image.new("L", (8064, 6048), 128), "JPEG"))
    assert response.status_code == 201, response.json
    assert (response.json["width"], response.json["height"]) == (uploads.MAX_SIDE, 1920)


def test_a_file_over_the_size_limit_is_413(client):
    user = make_user()
    data = b"\xff\xd8\xff" + b"\x00" * uploads.MAX_BYTES
    assert_file_error(post(client, user, data), 413, "uploads.too_large")


def test_a_body_over_the_request_limit_is_a_413_envelope(client, app):
    user = make_user()
    data = b"\x00" * (app.config["UPLOAD_MAX_CONTENT_LENGTH"] + 1)  # an upload's own limit (a 20 MB PDF)
    response = post(client, user, data)
    assert response.status_code == 413
    assert response.json["code"] == 413 and response.json["error"] == "request.too_large"
    assert set(response.json) == {"code", "status", "error", "message", "errors", "request_id"}


def test_a_missing_file_field_is_422(client):
    user = make_user()
    response = client.post(URL, data={"photo": (io.BytesIO(b"x"), "a.jpg")}, content_type="multipart/form-data",
                           headers=auth(user))
    assert response.status_code == 422
    assert "file" in response.json["errors"]["files"]
    as_text = client.post(URL, data={"file": "not a file"}, content_type="multipart/form-data", headers=auth(user))
    assert as_text.status_code == 422
    as_json = client.post(URL, json={"file": "aGVsbG8="}, headers=auth(user))
    assert as_json.status_code == 422


def test_a_part_the_upload_does_not_name_is_refused_naming_it(client):
    user = make_user()
    photo = photo_with_gps()
    with_text = client.post(URL, data={"file": (io.BytesIO(photo), "a.jpg", "image/jpeg"), "caption": "门口"},
                            content_type="multipart/form-data", headers=auth(user))
    assert with_text.status_code == 422, with_text.json
    assert with_text.json["errors"]["files"] == {"caption": ["不接受此字段"]}
    with_file = client.post(URL, data={"file": (io.BytesIO(photo), "a.jpg", "image/jpeg"),
                                       "extra": (io.BytesIO(photo), "b.jpg", "image/jpeg")},
                            content_type="multipart/form-data", headers=auth(user))
    assert with_file.status_code == 422
    assert list(with_file.json["errors"]["files"]) == ["extra"]
    assert count_uploads() == 0
    assert post(client, user, photo).status_code == 201


# --- who may see what -------------------------------------------------------------------------------------------

def test_login_is_required(client):
    user = make_user()
    upload = uploads.store_image(user.id, encode(Image.new("RGB", (4, 4)), "PNG"), "a.png", "image/png")
    response = client.post(URL, data={"file": (io.BytesIO(photo_with_gps()), "a.jpg", "image/jpeg")},
                           content_type="multipart/form-data")
    assert response.status_code == 401 and response.json["error"] == "auth.token_missing"
    assert client.post(URL).status_code == 401  # no body at all: still the login answer first
    got = client.get(f"{URL}/{upload.id}")
    assert got.status_code == 401 and got.json["error"] == "auth.token_missing"


def test_another_user_cannot_see_an_unattached_upload(client):
    owner, other = make_user(name="甲"), make_user(name="乙")
    body = post(client, owner, photo_with_gps()).json
    assert fetch(client, owner, body["id"]).status_code == 200
    denied = fetch(client, other, body["id"])
    missing = fetch(client, other, 2**62)
    assert denied.status_code == missing.status_code == 404
    # existence is not revealed (each answer names its own request)
    assert {**denied.json, "request_id": None} == {**missing.json, "request_id": None}
    assert denied.json["error"] == "uploads.not_found"


def test_staff_roles_do_not_see_unattached_uploads_either(client, app):
    owner = make_user(name="甲")
    admin = make_user(name="管理员", roles=[("admin", "district", 1)])
    body = post(client, owner, photo_with_gps()).json
    assert fetch(client, admin, body["id"]).status_code == 404


def test_once_attached_the_attached_objects_rule_decides(client, monkeypatch):
    owner, friend, stranger = make_user(name="甲"), make_user(name="乙"), make_user(name="丙")
    upload = uploads.store_image(owner.id, photo_with_gps(), "a.jpg", "image/jpeg")
    uploads.claim_for(owner.id, [upload.id], "test:1")
    db.session.commit()
    # No rule registered for "test" objects: nobody sees it, not even the owner.
    assert fetch(client, owner, upload.id).status_code == 404
    monkeypatch.setitem(uploads.VISIBILITY, "test",
                        lambda actor, item: item.attached_to == "test:1" and actor.user_id in (owner.id, friend.id))
    assert fetch(client, owner, upload.id).status_code == 200
    assert fetch(client, friend, upload.id).status_code == 200
    assert fetch(client, stranger, upload.id).status_code == 404


def test_get_upload_in_the_service():
    owner, other = make_user(), make_user()
    upload = uploads.store_image(owner.id, encode(Image.new("L", (3, 5), 40), "PNG"))
    assert upload.width == 3 and upload.height == 5 and upload.content_type == "image/png"
    assert uploads.get_upload(people.load_actor(owner.id), upload.id).id == upload.id
    with pytest.raises(NotFound):
        uploads.get_upload(people.load_actor(other.id), upload.id)


# --- claim_for (used by the cases service) -----------------------------------------------------------------------

def small(user) -> Upload:
    return uploads.store_image(user.id, encode(Image.new("RGB", (4, 4), "red"), "JPEG"), "a.jpg", "image/jpeg")


def test_claim_for_attaches_in_the_callers_transaction():
    user = make_user()
    first, second = small(user), small(user)
    claimed = uploads.claim_for(user.id, [second.id, first.id], "case:42")
    assert [u.id for u in claimed] == [second.id, first.id]
    assert all(u.attached_to == "case:42" for u in claimed)
    db.session.rollback()  # nothing was committed inside
    db.session.expire_all()
    assert db.session.get(Upload, first.id).attached_to is None
    uploads.claim_for(user.id, [first.id], "case:42")
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Upload, first.id).attached_to == "case:42"


def test_claim_for_refuses_someone_elses_upload():
    mine, theirs = make_user(name="甲"), make_user(name="乙")
    own, foreign = small(mine), small(theirs)
    with pytest.raises(InvalidInput) as refused:
        uploads.claim_for(mine.id, [own.id, foreign.id], "case:1")
    assert refused.value.errors == {"photos.1": ["照片不存在，请重新上传"]}
    assert refused.value.errors["photos.1"][0].en == "No such upload; upload the photo again"
    assert refused.value.code == "uploads.not_found" and refused.value.status == 422
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Upload, foreign.id).attached_to is None
    assert db.session.get(Upload, own.id).attached_to is None


def test_claim_for_refuses_an_upload_already_attached():
    user = make_user()
    photo = small(user)
    uploads.claim_for(user.id, [photo.id], "case:1")
    db.session.commit()
    with pytest.raises(InvalidInput) as refused:
        uploads.claim_for(user.id, [photo.id], "case:2")
    assert "photos.0" in refused.value.errors and refused.value.code == "uploads.already_attached"
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Upload, photo.id).attached_to == "case:1"


def test_claim_for_refuses_missing_duplicate_and_bogus_ids():
    user = make_user()
    photo = small(user)
    for ids, name, code in (([photo.id, 2**62], "photos.1", "uploads.not_found"),
                            ([photo.id, photo.id], "photos.1", "uploads.duplicate"),
                            ([0], "photos.0", "uploads.not_found"),
                            (["1"], "photos.0", "uploads.not_found")):
        with pytest.raises(InvalidInput) as refused:
            uploads.claim_for(user.id, ids, "case:1")
        assert name in refused.value.errors and refused.value.code == code
        db.session.rollback()
    with pytest.raises(InvalidInput) as renamed:
        uploads.claim_for(user.id, [2**62], "case:1", field="photo_ids")
    assert "photo_ids.0" in renamed.value.errors
    db.session.rollback()
    assert uploads.claim_for(user.id, [], "case:1") == []
    with pytest.raises(ValueError):
        uploads.claim_for(user.id, [photo.id], "no-kind")


# --- limits in the service ----------------------------------------------------------------------------------------

def test_limits_can_be_passed_in():
    user = make_user()
    data = encode(Image.new("RGB", (100, 100), "red"), "PNG")
    with pytest.raises(DomainError) as pixels:
        uploads.store_image(user.id, data, max_pixels=9999)
    assert pixels.value.code == "uploads.too_many_pixels" and pixels.value.errors.keys() == {"file"}
    with pytest.raises(DomainError) as size:
        uploads.store_image(user.id, io.BytesIO(data), max_bytes=len(data) - 1)
    assert size.value.code == "uploads.too_large" and size.value.status == 413
    smaller = uploads.store_image(user.id, data, max_side=10)
    assert (smaller.width, smaller.height) == (10, 10)


def test_a_reencoded_image_over_the_byte_limit_is_scaled_down_further():
    user = make_user()
    # A palette PNG of noise becomes three times bigger once stored as RGB.
    noise = Image.merge("RGB", [Image.effect_noise((600, 600), 128 + i) for i in range(3)]).quantize(256)
    data = encode(noise, "PNG")
    upload = uploads.store_image(user.id, data, max_bytes=len(data))
    assert upload.size <= len(data) and upload.width < 600


# --- idempotent retries -----------------------------------------------------------------------------------------

def test_a_retried_upload_with_the_same_key_returns_the_same_upload(client):
    user = make_user()
    data = photo_with_gps()
    first = post(client, user, data, **{"Idempotency-Key": "upload-1"})
    again = post(client, user, data, **{"Idempotency-Key": "upload-1"})  # a new multipart boundary
    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count_uploads() == 1
    other = post(client, user, encode(Image.new("RGB", (4, 4)), "PNG"), **{"Idempotency-Key": "upload-1"})
    assert other.status_code == 422 and other.json["error"] == "idempotency.key_reused"
    assert count_uploads() == 1


def test_a_refused_upload_does_not_burn_the_key(client):
    user = make_user()
    bad = post(client, user, b"not an image", **{"Idempotency-Key": "upload-2"})
    assert bad.status_code == 415
    fixed = post(client, user, b"not an image", **{"Idempotency-Key": "upload-2"})
    assert fixed.status_code == 415 and "Idempotent-Replayed" not in fixed.headers
