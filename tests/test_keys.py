import pytest

from dermarchive.archive import Archive, keys
from dermarchive.errors import PassphrasePolicyError


@pytest.mark.parametrize("passphrase,rule", [
    ("short1", "at least 10 characters"),
    ("onlyletterslong", "digit"),
    ("1234567890123", "letters"),
])
def test_passphrase_policy_names_the_rule(tmp_path, passphrase, rule):
    with pytest.raises(PassphrasePolicyError, match=rule):
        Archive.create(tmp_path / "a", "ana", passphrase, kdf=keys.CHEAP_TEST_PARAMS)
    assert not (tmp_path / "a").exists()


def test_default_key_derivation_is_calibrated_not_cheap(tmp_path):
    with Archive.create(tmp_path / "a", "ana", "correct horse 42") as a:
        kdf = a.header.slot_for("ana").kdf
    assert kdf.memory_kib >= 64 * 1024
    assert kdf.iterations >= keys.MIN_ITERATIONS
    assert kdf != keys.CHEAP_TEST_PARAMS


def test_subkeys_differ_per_label_and_per_archive():
    m1 = keys.MasterKey(b"\x01" * 32, "00" * 16)
    m2 = keys.MasterKey(b"\x01" * 32, "11" * 16)
    labels = {m1.subkey(label) for label in keys.SUBKEY_LABELS}
    assert len(labels) == len(keys.SUBKEY_LABELS)
    assert m1.subkey("catalogue") != m2.subkey("catalogue")
    m1.forget()
    with pytest.raises(RuntimeError):
        m1.subkey("audit")
