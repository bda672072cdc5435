"""The storage of uploaded files: the same operations on both backends, a directory and S3-compatible object
storage (a local server in its own process, spoken to through boto3 as in production)."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
import requests

from service import storage
from service.storage import FileStorage, ObjectMissing, S3Storage, StorageConfigError, StorageError
from tests.fakes.s3 import ACCESS_KEY, REGION, SECRET_KEY


@pytest.fixture(params=["file", "s3"])
def backend(request, tmp_path):
    if request.param == "file":
        return FileStorage(tmp_path / "uploads")
    return request.getfixturevalue("s3_storage")


def test_put_get_exists_delete(backend):
    key = "uploads/2026/12/abc_DEF-1.jpg"
    assert not backend.exists(key)
    with pytest.raises(ObjectMissing):
        backend.get(key)
    backend.put(key, b"\xff\xd8first", "image/jpeg")
    assert backend.exists(key) and backend.get(key) == b"\xff\xd8first"
    backend.put(key, b"\xff\xd8second", "image/jpeg")  # a put replaces the whole object
    assert backend.get(key) == b"\xff\xd8second"
    backend.delete(key)
    assert not backend.exists(key)
    backend.delete(key)  # deleting what is not there is no error


def test_large_and_binary_objects_come_back_identical(backend):
    data = bytes(range(256)) * 40_000  # 10 MB, every byte value
    backend.put("uploads/big.png", data, "image/png")
    assert hashlib.sha256(backend.get("uploads/big.png")).digest() == hashlib.sha256(data).digest()


def test_list_names_every_object_under_a_prefix_with_its_time_and_size(backend):
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    backend.put("uploads/2026/11/a.jpg", b"aa", "image/jpeg")
    backend.put("uploads/2026/12/b.png", b"bbb", "image/png")
    backend.put("other/c.webp", b"c", "image/webp")
    listed = {item.key: item for item in backend.list("uploads/")}
    assert set(listed) == {"uploads/2026/11/a.jpg", "uploads/2026/12/b.png"}
    assert listed["uploads/2026/12/b.png"].size == 3
    assert all(before <= item.modified_at <= datetime.now(timezone.utc) + timedelta(seconds=5)
               for item in listed.values())
    assert {item.key for item in backend.list()} == {*listed, "other/c.webp"}


@pytest.mark.parametrize("key", ["../etc/passwd", "/etc/passwd", "uploads/../../x", "uploads//x", "a b",
                                 "uploads/./x", "", "uploads/x\n", "上传/x"])
def test_a_key_cannot_leave_the_directory_or_prefix(backend, key):
    with pytest.raises(ValueError):
        backend.put(key, b"x", "image/jpeg")
    with pytest.raises(ValueError):
        backend.get(key)


def test_the_file_backend_writes_whole_files_only(tmp_path):
    backend = FileStorage(tmp_path)
    backend.put("uploads/x.jpg", b"data", "image/jpeg")
    assert sorted(p.name for p in (tmp_path / "uploads").iterdir()) == ["x.jpg"]  # no temporary file left
    assert backend.url_for("uploads/x.jpg", 60) is None  # no direct link: Linli streams it


def test_the_file_backend_reports_an_unwritable_directory(tmp_path):
    (tmp_path / "blocked").write_text("a file where a directory should be")
    with pytest.raises(StorageError):
        FileStorage(tmp_path / "blocked").put("uploads/x.jpg", b"data", "image/jpeg")


def test_an_s3_object_keeps_its_content_type_and_a_signed_link_reads_it(s3_storage):
    s3_storage.put("uploads/p.webp", b"RIFF....WEBP", "image/webp")
    head = s3_storage.client.head_object(Bucket=s3_storage.bucket, Key="linli/uploads/p.webp")
    assert head["ContentType"] == "image/webp"  # under the URL's prefix
    link = s3_storage.url_for("uploads/p.webp", 60)
    assert link.startswith(s3_storage.endpoint + "/") and "X-Amz-Signature=" in link and "X-Amz-Expires=60" in link
    answer = requests.get(link, timeout=10)
    assert answer.status_code == 200 and answer.content == b"RIFF....WEBP"
    assert requests.get(link.split("?")[0], timeout=10).status_code == 403  # without the signature
    # The expiry is signed into the link (X-Amz-Expires) and enforced by the S3 server; the local server does
    # not check signatures or expiry, so that part is S3's and not tested here.


def test_an_unreachable_s3_is_a_storage_error_not_a_crash():
    dead = S3Storage("linli-nowhere", endpoint="http://127.0.0.1:9", region=REGION, access_key=ACCESS_KEY,
                     secret_key=SECRET_KEY, timeout=1)
    for call in (lambda: dead.put("uploads/x", b"x", "image/jpeg"), lambda: dead.get("uploads/x"),
                 lambda: dead.exists("uploads/x"), lambda: list(dead.list("uploads/"))):
        with pytest.raises(StorageError) as failed:
            call()
        assert not isinstance(failed.value, ObjectMissing)


def test_wrong_credentials_or_a_missing_bucket_are_storage_errors(s3_server):
    missing = storage.from_url(s3_server.url("linli-no-such-bucket"))
    with pytest.raises(StorageError):
        missing.put("uploads/x", b"x", "image/jpeg")


# --- STORAGE_URL ------------------------------------------------------------------------------------------------

def test_a_file_url_names_a_directory(tmp_path):
    backend = storage.from_url(f"file://{tmp_path}/up%20loads")
    assert isinstance(backend, FileStorage) and backend.root == (tmp_path / "up loads")


def test_an_s3_url_names_bucket_prefix_endpoint_region_and_credentials():
    backend = storage.from_url("s3://AKID:se%2Fcret@linli-files/prod/uploads?endpoint=http://minio:9000"
                               "&region=cn-east-1")
    assert isinstance(backend, S3Storage)
    assert (backend.bucket, backend.prefix, backend.endpoint, backend.region) == (
        "linli-files", "prod/uploads/", "http://minio:9000", "cn-east-1")
    assert backend._credentials == ("AKID", "se/cret") and backend.addressing == "path"
    plain = storage.from_url("s3://linli-files")  # credentials from the environment, AWS's own endpoint
    assert plain.prefix == "" and plain._credentials == (None, None) and plain.addressing == "auto"


@pytest.mark.parametrize("url", ["ftp://x/y", "file://relative/path", "uploads", "s3://Bad_Bucket/x",
                                 "s3://linli/x?endpont=http://a", "s3://linli/x?endpoint=minio:9000",
                                 "s3://key@linli/x", "s3://linli/x?addressing=sideways"])
def test_an_unusable_url_is_refused_at_start_saying_why(url):
    with pytest.raises(StorageConfigError) as refused:
        storage.from_url(url)
    assert "STORAGE_URL" in str(refused.value)


def test_the_app_stores_in_the_directory_or_bucket_storage_url_names(tmp_path):
    from manage import create_app

    previous = storage.current()
    try:
        create_app(profile="test", config={"STORAGE_URL": f"file://{tmp_path}/files"})
        assert storage.current().describe() == f"file://{tmp_path}/files"
        with pytest.raises(StorageConfigError):
            create_app(profile="test", config={"STORAGE_URL": "gopher://x"})
    finally:
        storage.use(previous)
