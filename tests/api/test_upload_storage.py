"""Uploads in the storage: the bytes in a directory or S3-compatible object storage (a local server process),
the row in the database; what happens when either side fails; the sweeps; moving the bytes of older rows out
of the database (``flask uploads move-to-storage``); signed links and conditional requests."""
from __future__ import annotations

import hashlib
import io
import time
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa
from PIL import Image

from models.base import db
from models.uploads import Upload
from service import clock, storage, uploads
from service.db import reset_commit_deadline, set_commit_deadline
from service.errors import Unavailable
from service.storage import FileStorage, S3Storage, StorageError
from tests.factories import auth, make_user

URL = "/api/v1/uploads"


@pytest.fixture(params=["file", "s3"])
def backend(request, tmp_path):
    """The storage for one test: a fresh directory, or a fresh bucket of the local S3 server."""
    if request.param == "s3":
        yield request.getfixturevalue("s3_storage")
        return
    previous = storage.use(FileStorage(tmp_path / "uploads"))
    yield storage.current()
    storage.use(previous)


class Broken(storage.Storage):
    """A storage that cannot be reached (every call fails as an unreachable server does)."""

    def __init__(self, inner: storage.Storage | None = None, *, fail: tuple[str, ...] = ("put", "get", "delete",
                                                                                      "exists", "list")):
        self.inner, self.fail = inner, fail

    def __getattribute__(self, name):
        if name in object.__getattribute__(self, "fail"):
            def unreachable(*args, **kwargs):
                raise StorageError(f"{name}: connection refused")
            return unreachable
        return object.__getattribute__(self, name)

    def put(self, *args):
        return self.inner.put(*args)

    def get(self, *args):
        return self.inner.get(*args)

    def delete(self, *args):
        return self.inner.delete(*args)

    def list(self, *args):
        return self.inner.list(*args)


def jpeg(colour="red", size=(24, 16)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


def post(client, user, data: bytes, **headers):
    return client.post(URL, data={"file": (io.BytesIO(data), "p.jpg", "image/jpeg")},
                       content_type="multipart/form-data", headers=auth(user, **headers))


def keys() -> set[str]:
    return {item.key for item in storage.current().list(uploads.KEY_PREFIX)}


def legacy(user, data: bytes, content_type="image/jpeg", sha256: str | None = None) -> Upload:
    """A row as stored before the storage existed: the bytes in the database, no key."""
    row = Upload(owner_user_id=user.id, content_type=content_type, width=1, height=1, size=len(data),
                 sha256=sha256 or hashlib.sha256(data).hexdigest(), data=data)
    db.session.add(row)
    db.session.commit()
    return row


def column(upload_id: int):
    return db.session.execute(sa.select(Upload.storage_key, Upload.data).where(Upload.id == upload_id)).one()


# --- writing ------------------------------------------------------------------------------------------------------

def test_a_new_upload_is_in_the_storage_and_the_row_only_names_it(client, backend):
    user = make_user()
    response = post(client, user, jpeg())
    assert response.status_code == 201, response.json
    key, data = column(response.json["id"])
    assert data is None and key.startswith(f"uploads/{clock.now():%Y/%m}/") and key.endswith(".jpg")
    assert keys() == {key}
    stored = storage.current().get(key)
    assert hashlib.sha256(stored).hexdigest() == db.session.get(Upload, response.json["id"]).sha256
    assert fetch(client, user, response.json["id"]).data == stored
    if isinstance(backend, S3Storage):  # really in the bucket, under the URL's prefix, with its type
        head = backend.client.head_object(Bucket=backend.bucket, Key=f"linli/{key}")
        assert head["ContentType"] == "image/jpeg" and head["ContentLength"] == len(stored)


def test_a_row_that_cannot_be_written_takes_its_object_with_it(client, backend):
    user = make_user()
    token = set_commit_deadline(time.monotonic() - 1)  # the request ran too long: its write is given up
    try:
        with pytest.raises(Unavailable):
            uploads.store_image(user.id, jpeg())
    finally:
        reset_commit_deadline(token)
    assert db.session.execute(sa.select(sa.func.count()).select_from(Upload)).scalar_one() == 0
    assert keys() == set()


def test_an_object_left_behind_is_deleted_by_the_orphan_sweep_a_day_later(client, backend):
    user = make_user()
    storage.use(Broken(backend, fail=("delete",)))  # neither the row nor the clean-up can be written
    token = set_commit_deadline(time.monotonic() - 1)
    try:
        with pytest.raises(Unavailable):
            uploads.store_image(user.id, jpeg())
    finally:
        reset_commit_deadline(token)
        storage.use(backend)
    [orphan] = keys()
    kept = uploads.store_image(user.id, jpeg("blue"))  # a live upload, as old as the orphan
    assert uploads.purge_orphans() == {"checked": 2, "deleted": 0}  # too young: its row may be on its way
    clock.shift(timedelta(hours=25))
    assert uploads.purge_orphans() == {"checked": 2, "deleted": 1}
    assert keys() == {kept.storage_key}


def test_an_unreachable_storage_is_a_503_and_nothing_is_written(client, backend):
    user = make_user()
    storage.use(Broken())
    try:
        response = post(client, user, jpeg())
        english = post(client, user, jpeg(), **{"Accept-Language": "en"})
    finally:
        storage.use(backend)
    assert response.status_code == 503 and response.json["error"] == "uploads.storage_unavailable"
    assert response.json["message"] == "图片存储暂时不可用，请稍后再试"
    assert english.json["message"] == "Image storage is unavailable; please retry later"
    assert db.session.execute(sa.select(sa.func.count()).select_from(Upload)).scalar_one() == 0


def test_an_unreachable_s3_server_is_a_503_too(client, s3_server):
    user = make_user()
    previous = storage.use(S3Storage("linli-gone", endpoint="http://127.0.0.1:9", region="us-east-1",
                                     access_key="k", secret_key="s", timeout=1))
    try:
        response = post(client, user, jpeg())
    finally:
        storage.use(previous)
    assert response.status_code == 503 and response.json["error"] == "uploads.storage_unavailable"


# --- reading ------------------------------------------------------------------------------------------------------

def fetch(client, user, upload_id, **headers):
    return client.get(f"{URL}/{upload_id}", headers=auth(user, **headers))


def test_a_missing_object_is_a_404_and_an_unreachable_storage_a_503(client, backend):
    user = make_user()
    gone, kept = post(client, user, jpeg()).json["id"], post(client, user, jpeg("blue")).json["id"]
    storage.current().delete(column(gone).storage_key)
    missing = fetch(client, user, gone)
    assert missing.status_code == 404 and missing.json["error"] == "uploads.not_found"
    storage.use(Broken())
    try:
        down = fetch(client, user, kept)
    finally:
        storage.use(backend)
    assert down.status_code == 503 and down.json["error"] == "uploads.storage_unavailable"


def test_a_client_holding_the_image_gets_a_304_without_the_storage_being_read(client, backend):
    user = make_user()
    body = post(client, user, jpeg()).json
    first = fetch(client, user, body["id"])
    etag = first.headers["ETag"]
    storage.use(Broken())  # a read would fail
    try:
        again = fetch(client, user, body["id"], **{"If-None-Match": etag})
        other = make_user()
        hidden = fetch(client, other, body["id"], **{"If-None-Match": etag})
    finally:
        storage.use(backend)
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    assert hidden.status_code == 404  # visibility first: an ETag reveals nothing


def test_with_redirects_on_s3_answers_a_signed_link_after_the_same_checks(client, app, s3_storage, monkeypatch):
    owner, stranger = make_user(), make_user()
    body = post(client, owner, jpeg()).json
    monkeypatch.setitem(app.config, "STORAGE_REDIRECT_SECONDS", 120)
    response = fetch(client, owner, body["id"])
    assert response.status_code == 302 and response.headers["Cache-Control"] == "private, no-store"
    link = response.headers["Location"]
    assert link.startswith(s3_storage.endpoint) and "X-Amz-Expires=120" in link and "X-Amz-Signature=" in link
    direct = requests.get(link, timeout=10)
    assert direct.status_code == 200 and direct.headers["Content-Type"] == "image/jpeg"
    assert hashlib.sha256(direct.content).hexdigest() == db.session.get(Upload, body["id"]).sha256
    denied = fetch(client, stranger, body["id"])
    assert denied.status_code == 404 and "Location" not in denied.headers


def test_with_redirects_on_disk_linli_streams_the_file(client, app, tmp_path, monkeypatch):
    previous = storage.use(FileStorage(tmp_path))
    try:
        owner = make_user()
        body = post(client, owner, jpeg()).json
        monkeypatch.setitem(app.config, "STORAGE_REDIRECT_SECONDS", 120)
        response = fetch(client, owner, body["id"])
    finally:
        storage.use(previous)
    assert response.status_code == 200 and response.data[:3] == b"\xff\xd8\xff"


def test_a_row_not_moved_yet_is_served_from_the_database(client, backend):
    user = make_user()
    row = legacy(user, jpeg("green"))
    response = fetch(client, user, row.id)
    assert response.status_code == 200 and response.data == jpeg("green")
    assert keys() == set()


# --- the sweeps ---------------------------------------------------------------------------------------------------

def test_purging_unattached_uploads_deletes_their_objects_and_keeps_the_attached(client, backend):
    user = make_user()
    abandoned = uploads.store_image(user.id, jpeg())
    attached = uploads.store_image(user.id, jpeg("blue"))
    legacy(user, jpeg("green"))
    uploads.claim_for(user.id, [attached.id], "case:1")
    db.session.commit()
    clock.shift(timedelta(hours=25))
    fresh = uploads.store_image(user.id, jpeg("white"))
    expected = {attached.id: attached.storage_key, fresh.id: fresh.storage_key}
    assert len(keys()) == 3
    assert uploads.purge_unattached() == 2  # the abandoned one and the old row; not the fresh one
    assert keys() == set(expected.values())
    assert set(db.session.execute(sa.select(Upload.id)).scalars()) == set(expected)


def test_purging_in_batches_goes_through_them_all(client, backend):
    user = make_user()
    made = [uploads.store_image(user.id, jpeg(size=(8, 8 + i))).id for i in range(5)]
    clock.shift(timedelta(hours=25))
    assert len(keys()) == 5
    assert uploads.purge_unattached(batch=2) == 5
    assert keys() == set()
    assert db.session.execute(sa.select(Upload.id).where(Upload.id.in_(made))).first() is None


def test_a_purged_rows_object_that_cannot_be_deleted_goes_with_the_orphan_sweep(client, backend):
    user = make_user()
    key = uploads.store_image(user.id, jpeg()).storage_key
    clock.shift(timedelta(hours=25))
    storage.use(Broken(backend, fail=("delete",)))
    try:
        assert uploads.purge_unattached() == 1  # the row goes; its object stays for now
    finally:
        storage.use(backend)
    assert keys() == {key}
    assert uploads.purge_orphans()["deleted"] == 1 and keys() == set()


def test_the_sweeps_are_scheduled():
    from jobs import runner

    jobs = {job.id: job for job in runner.all_jobs()}
    assert {"uploads.purge_unattached", "uploads.purge_orphans"} <= set(jobs)
    assert jobs["uploads.purge_orphans"].trigger_args == {"hour": 3, "minute": 47}  # daily: it lists everything


# --- flask uploads move-to-storage ------------------------------------------------------------------------------------

def move(app, *args):
    return app.test_cli_runner().invoke(args=["uploads", "move-to-storage", *args])


def test_move_to_storage_moves_verifies_and_serves_the_same_bytes(app, client, backend):
    user = make_user()
    images = [jpeg(colour, (10 + i, 10)) for i, colour in enumerate(("red", "green", "blue", "white", "black"))]
    rows = [legacy(user, data) for data in images]
    new = uploads.store_image(user.id, jpeg("yellow"))  # already in the storage: left alone
    result = move(app, "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert f"moved 5 uploads ({sum(map(len, images))} bytes)" in result.output
    assert "0 still in the database" in result.output and "batch 3: 5 moved" in result.output
    for row, data in zip(rows, images):
        key, held = column(row.id)
        assert held is None and key.startswith("uploads/")
        assert storage.current().get(key) == data
        assert fetch(client, user, row.id).data == data
    assert column(new.id).storage_key == new.storage_key
    assert len(keys()) == 6
    again = move(app)
    assert again.exit_code == 0 and "moved 0 uploads (0 bytes)" in again.output and len(keys()) == 6


def test_move_to_storage_is_resumable_batch_by_batch(app, backend):
    user = make_user()
    rows = [legacy(user, jpeg(size=(8 + i, 8))) for i in range(5)]
    first = move(app, "--batch-size", "2", "--limit", "3")
    assert first.exit_code == 0 and "moved 3 uploads" in first.output and "2 still in the database" in first.output
    assert [column(r.id).data is None for r in rows] == [True, True, True, False, False]
    rest = move(app)
    assert "moved 2 uploads" in rest.output and "0 still in the database" in rest.output
    assert all(column(r.id).data is None for r in rows) and len(keys()) == 5


def test_an_interrupted_move_loses_one_batch_at_most_and_its_objects_are_swept(app, backend, monkeypatch):
    user = make_user()
    rows = [legacy(user, jpeg(size=(8 + i, 8))) for i in range(4)]
    real = uploads._record_moves
    calls = []

    def dies_on_the_second_batch(written):
        calls.append(written)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the operator's Ctrl-C, or a crash, between writing and recording
        return real(written)

    monkeypatch.setattr(uploads, "_record_moves", dies_on_the_second_batch)
    result = move(app, "--batch-size", "2")
    assert result.exit_code != 0
    monkeypatch.setattr(uploads, "_record_moves", real)
    assert [column(r.id).data is None for r in rows] == [True, True, False, False]  # the first batch stands
    assert len(keys()) == 4  # the second batch's objects are named by no row
    rest = move(app)
    assert "moved 2 uploads" in rest.output and all(column(r.id).data is None for r in rows)
    assert len(keys()) == 6
    clock.shift(timedelta(hours=25))
    assert uploads.purge_orphans()["deleted"] == 2
    assert keys() == {column(r.id).storage_key for r in rows}


def test_a_row_whose_bytes_do_not_match_its_checksum_stays_and_is_reported(app, backend):
    user = make_user()
    good = legacy(user, jpeg())
    bad = legacy(user, jpeg("blue"), sha256="0" * 64)
    result = move(app)
    assert result.exit_code == 1
    assert "moved 1 uploads" in result.output and "1 still in the database" in result.output
    assert f"1 do not match their checksum and stay in the database: {bad.id}" in result.output
    assert column(bad.id).data == jpeg("blue") and column(bad.id).storage_key is None
    assert keys() == {column(good.id).storage_key}


def test_an_object_that_does_not_read_back_intact_is_not_trusted(app, backend, monkeypatch):
    user = make_user()
    row = legacy(user, jpeg())

    class Corrupting(storage.Storage):
        def put(self, key, data, content_type):
            backend.put(key, data[:-1] + b"\x00", content_type)  # a bit flipped on the way

        def get(self, key):
            return backend.get(key)

        def delete(self, key):
            backend.delete(key)

    storage.use(Corrupting())
    try:
        result = move(app)
    finally:
        storage.use(backend)
    assert result.exit_code == 1 and f"could not be written or read back intact" in result.output
    assert column(row.id).data == jpeg() and column(row.id).storage_key is None
    assert keys() == set()  # the bad copy is deleted


def test_a_row_deleted_while_it_is_moved_leaves_no_object(app, backend, monkeypatch):
    user = make_user()
    row_id = legacy(user, jpeg()).id
    real = uploads._copy_one

    def then_purged(found, report):
        copied = real(found, report)
        db.session.execute(sa.delete(Upload).where(Upload.id == found.id))
        db.session.commit()
        return copied

    monkeypatch.setattr(uploads, "_copy_one", then_purged)
    report = uploads.move_to_storage()
    assert (report.moved, report.raced) == (0, 1) and keys() == set()
    assert db.session.execute(sa.select(Upload.id).where(Upload.id == row_id)).first() is None
