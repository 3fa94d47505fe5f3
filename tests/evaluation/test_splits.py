import pytest

from evaluation.protocols import split_subjects

CASIA_B = [f"{n:03d}" for n in range(1, 125)]
TUM_GAID = [f"p{n:03d}" for n in range(1, 306)]


def test_standard_casia_b_split_is_74_train_50_test():
    train, test = split_subjects(CASIA_B, "casia-b", None)
    assert len(train) == 74 and len(test) == 50
    assert max(train) == "074" and min(test) == "075"


def test_standard_tum_gaid_split_is_150_train_155_test():
    train, test = split_subjects(TUM_GAID, "tum-gaid", None)
    assert len(train) == 150 and len(test) == 155
    assert max(train) == "p150" and min(test) == "p151"


def test_first_n_subjects_in_sorted_order():
    train, test = split_subjects(["c9", "a1", "b5", "a2"], "casia-b", "2")
    assert train == {"a1", "a2"} and test == {"b5", "c9"}


def test_numbered_range_uses_the_ids_digits():
    train, test = split_subjects(TUM_GAID[:20], "tum-gaid", " 3 - 12 ")
    assert train == {f"p{n:03d}" for n in range(3, 13)}
    assert len(test) == 10
    assert train.isdisjoint(test)


def test_duplicates_and_non_string_ids_are_normalised():
    train, test = split_subjects(["001", "001", "080"], "casia-b", None)
    assert train == {"001"} and test == {"080"}


@pytest.mark.parametrize(
    ("subjects", "protocol", "split", "message"),
    [
        (CASIA_B, "casia-b", "0", "leaves no training subject"),
        (CASIA_B, "casia-b", "124", "leaves no test subject"),
        (CASIA_B, "casia-b", "200-300", "leaves no training subject"),
        (CASIA_B[:50], "casia-b", None, r"casia-b: the standard casia-b split .* leaves no test"),
        (CASIA_B[80:], "casia-b", None, "leaves no training subject"),
        (CASIA_B, "casia-b", "first ten", "neither 'N'"),
        (CASIA_B, "casia-b", "12-5", "runs backwards"),
        (["alice", "bob"], "casia-b", "1-2", "'alice' has no digits"),
        ([], "casia-b", None, "no subjects to split"),
        (CASIA_B, "oumvlp", None, "protocol must be"),
    ],
)
def test_split_errors(subjects, protocol, split, message):
    with pytest.raises(ValueError, match=message):
        split_subjects(subjects, protocol, split)


def test_the_first_n_subjects_are_counted_in_number_order():
    # Ids without leading zeros (a folder archive's own names): "10" is not before "2".
    train, test = split_subjects(["10", "2", "1", "3"], "casia-b", "2")
    assert train == {"1", "2"} and test == {"3", "10"}
    train, _ = split_subjects(["p10", "p2", "p1"], "tum-gaid", "2")
    assert train == {"p1", "p2"}
    train, _ = split_subjects(["003", "010", "001", "002"], "casia-b", "2")  # zero-padded: as before
    assert train == {"001", "002"}
