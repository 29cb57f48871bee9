import pytest

from dermarchive import nhi
from dermarchive.archive import records
from dermarchive.errors import DuplicateNHI, InvalidNHI

VALID = ["WLD9413", "ZSC21TN", "ZAC5361", "ZBN77VL", "ZZZ0016", "ZZZ0024", "ZZZ00AC"]
INVALID = {
    "ZZZ0044": "check digit",
    "ZZZ00AA": "check letter",
    "ZZZ0017": "check digit",
    "ZZI0016": "I or O",
    "ZZO0016": "I or O",
    "ZZ0016": "7 characters",
    "ZZZ00166": "7 characters",
    "1ZZ0016": "three letters",
    "ZZZA016": "digits",
    "": "required",
}


@pytest.mark.parametrize("value", VALID)
def test_known_valid_numbers_pass(value):
    assert nhi.problem(value) is None
    assert nhi.validate(value.lower()) == value


@pytest.mark.parametrize("value,rule", INVALID.items())
def test_invalid_numbers_name_the_rule(value, rule):
    with pytest.raises(InvalidNHI) as err:
        nhi.validate(value)
    assert rule in str(err.value)


def test_nhi_is_stored_upper_case_and_unique(archive):
    p = records.add_patient(archive, " zzz 0016 ", "Tāmaki", "Aroha", "1980-05-04")
    assert p.nhi == "ZZZ0016"
    with pytest.raises(DuplicateNHI, match="ZZZ0016"):
        records.add_patient(archive, "ZZZ0016", "Other", "Person")
    assert [x.nhi for x in records.find_patients(archive)] == ["ZZZ0016"]
