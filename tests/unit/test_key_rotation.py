"""The personal-data key has versions; ``flask privacy rotate-key`` re-encrypts with the current one."""
from __future__ import annotations

import base64
import hashlib

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

import models
from models.base import db
from models.people import ResidentProfile
from models.second_factor import SecondFactor
from service import key_rotation, privacy
from tests.factories import VALID_ID, make_user

OLD = "Zx8Kq2Lm5Np9Rt3Vw6Yb1Cd4Fg7Hj0Ks2Ml5Qp8"
NEW = "Qm4vR2xYp7LwT9sKd3NfB6hJc8ZaE1uGy5oVi0"


@pytest.fixture
def keys():
    """The privacy module's keys as the app set them, put back after the test."""
    saved = (privacy._keys, privacy._current, privacy._hash_key, privacy._mac_key)
    privacy.configure(OLD)
    yield
    privacy._keys, privacy._current, privacy._hash_key, privacy._mac_key = saved


def _values() -> dict:
    rows = db.session.execute(sa.select(ResidentProfile.user_id, ResidentProfile.phone_enc,
                                        ResidentProfile.id_number_enc, ResidentProfile.phone_hash)).all()
    return {r.user_id: r for r in rows}


def test_every_encrypted_column_is_rotated():
    """A model's ``*_enc`` column that the rotation does not know would keep the old key for ever: the platform's
    and the domains' (the care domain's contacts, file, visit notes and vendor secrets) are all found."""
    rotated = {key_rotation._name(column) for column in key_rotation.encrypted()}
    assert {"resident_profile.phone_enc", "resident_profile.id_number_enc", "second_factor.secret_enc",
            "care_contact.phone_enc", "care_file.health_enc", "care_visit.notes_enc",
            "care_vendor.secret_enc"} <= rotated
    assert all(name.endswith("_enc") for name in rotated)


def test_old_and_new_values_read_until_the_rotation_completes_and_lookups_do_not_change(keys, app):
    people = [make_user(name=f"居民{i}", phone=f"1381234{i:04d}", id_number=VALID_ID if i == 0 else None)
              for i in range(5)]
    legacy_fernet = Fernet(base64.urlsafe_b64encode(hashlib.sha256(("linli-pii:" + OLD).encode()).digest()))
    legacy = make_user(name="旧数据")
    db.session.get(ResidentProfile, legacy.id).phone_enc = legacy_fernet.encrypt(b"13900000000").decode()
    db.session.add(SecondFactor(user_id=people[1].id, secret_enc=privacy.encrypt("JBSWY3DPEHPK3PXP"), failures=0))
    db.session.flush()
    before = _values()
    assert all(v.phone_enc.startswith("v1:") for k, v in before.items() if k != legacy.id)
    assert not before[legacy.id].phone_enc.startswith("v")       # written before keys had versions

    privacy.configure(NEW, version=2, old_keys={1: OLD})            # the rotation starts: PII_KEY is new
    assert privacy.decrypt(before[people[0].id].phone_enc) == "13812340000"
    assert privacy.decrypt(before[people[0].id].id_number_enc) == VALID_ID
    assert privacy.decrypt(before[legacy.id].phone_enc) == "13900000000"
    assert privacy.encrypt("x").startswith("v2:")
    assert privacy.lookup_hash("13812340000") == before[people[0].id].phone_hash
    assert key_rotation.remaining() == len(people) + 1 + 1 + 1      # 6 phones, 1 ID number, 1 secret

    report = key_rotation.rotate(batch=2)
    assert {name: n for name, n in report.rewritten.items() if n} == {
        "resident_profile.phone_enc": 6, "resident_profile.id_number_enc": 1, "second_factor.secret_enc": 1}
    assert report.remaining == 0 and not any(report.unreadable.values())
    after = _values()
    assert all(v.phone_enc.startswith("v2:") for v in after.values())
    assert after[people[0].id].id_number_enc.startswith("v2:")
    assert {k: v.phone_hash for k, v in after.items()} == {k: v.phone_hash for k, v in before.items()}

    privacy.configure(NEW, version=2, hash_secret=OLD)             # the old key removed: everything still reads
    assert privacy.decrypt(after[legacy.id].phone_enc) == "13900000000"
    assert privacy.decrypt(after[people[0].id].id_number_enc) == VALID_ID
    assert privacy.decrypt(db.session.get(SecondFactor, people[1].id).secret_enc) == "JBSWY3DPEHPK3PXP"
    assert privacy.lookup_hash("13812340000") == after[people[0].id].phone_hash


def test_an_interrupted_rotation_loses_nothing_and_a_second_run_finishes_it(keys, monkeypatch):
    people = [make_user(name=f"居民{i}", phone=f"1381234{i:04d}") for i in range(5)]
    privacy.configure(NEW, version=2, old_keys={1: OLD})
    real, calls = privacy.encrypt, []

    def failing(value):
        calls.append(value)
        if len(calls) == 3:
            raise OSError("the process was stopped")
        return real(value)

    monkeypatch.setattr(privacy, "encrypt", failing)
    with pytest.raises(OSError):
        key_rotation.rotate(batch=2)
    monkeypatch.setattr(privacy, "encrypt", real)
    half = _values()
    assert sum(v.phone_enc.startswith("v2:") for v in half.values()) == 2   # the first batch committed
    assert all(privacy.decrypt(half[p.id].phone_enc) == f"1381234{i:04d}" for i, p in enumerate(people))
    report = key_rotation.rotate(batch=2)
    assert report.rewritten["resident_profile.phone_enc"] == 3 and report.remaining == 0


def test_a_value_no_key_reads_is_left_and_reported(keys, app):
    person = make_user(name="王秀英", phone="13812345678")
    stranger = Fernet(Fernet.generate_key()).encrypt(b"13800000000").decode()
    db.session.get(ResidentProfile, person.id).phone_enc = "v7:" + stranger
    db.session.flush()
    privacy.configure(NEW, version=2, old_keys={1: OLD})
    result = app.test_cli_runner().invoke(args=["privacy", "rotate-key", "--batch-size", "10"])
    assert result.exit_code == 1
    assert "resident_profile.phone_enc: 1 no configured key reads, left as they are" in result.output
    assert "1 values are not yet written with version 2" in result.output
    assert db.session.get(ResidentProfile, person.id).phone_enc == "v7:" + stranger
