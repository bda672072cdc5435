"""Masking and encryption of personal data."""
from service import privacy
from service.people import valid_id_number


def test_mask_phone():
    assert privacy.mask_phone("13812345678") == "138****5678"
    assert privacy.mask_phone(None) is None


def test_mask_id_number_keeps_only_prefix_and_last_four():
    masked = privacy.mask_id_number("11010519491231002X")
    assert masked == "110***********002X"
    assert "19491231" not in masked


def test_mask_name_keeps_the_family_name():
    assert privacy.mask_name("王秀英") == "王**"
    assert privacy.mask_name("李") == "*"


def test_encrypt_round_trip_and_ciphertext_hides_the_value():
    token = privacy.encrypt("13812345678")
    assert "13812345678" not in token
    assert privacy.decrypt(token) == "13812345678"
    assert privacy.decrypt("not-a-token") is None


def test_lookup_hash_is_stable_and_case_insensitive():
    assert privacy.lookup_hash("11010519491231002x") == privacy.lookup_hash("11010519491231002X")
    assert privacy.lookup_hash("13812345678") != privacy.lookup_hash("13812345679")


def test_id_number_check_digit():
    assert valid_id_number("11010519491231002X")
    assert not valid_id_number("110105194912310021")  # wrong check digit
    assert not valid_id_number("11010519491231002")  # 17 characters
