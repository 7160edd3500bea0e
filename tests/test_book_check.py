"""rnncourse.book.check: a claim about a glued value holds, fails naming the claim, or
refuses a name that was never glued."""
import pytest

from rnncourse import book


@pytest.fixture(autouse=True)
def _fresh_glue_registry(monkeypatch):
    # each test starts from an empty kernel: nothing glued yet
    monkeypatch.setattr(book, "_GLUED", {})


def test_a_claim_that_holds_passes_silently():
    assert book.glue("t_ppl", 4.2) == 4.2
    assert book.check("t_ppl", 4.2 < 5.0, "below 5") is None


def test_a_claim_that_does_not_hold_names_the_value_and_the_claim():
    book.glue("t_ppl", 6.5)
    with pytest.raises(AssertionError, match=r"t_ppl = 6\.5 does not hold: below 5"):
        book.check("t_ppl", 6.5 < 5.0, "below 5")


def test_a_name_never_glued_is_refused_even_when_the_claim_holds():
    book.glue("t_ppl", 4.2)
    with pytest.raises(KeyError, match="t_pll"):
        book.check("t_pll", True, "a typo checks nothing")


def test_a_value_glued_again_is_checked_as_its_last_value():
    book.glue("t_acc", 0.4)
    book.glue("t_acc", 0.7)
    with pytest.raises(AssertionError, match="0.7"):
        book.check("t_acc", False, "shows the current value")


def test_numpy_and_torch_truth_values_are_accepted():
    np = pytest.importorskip("numpy")
    torch = pytest.importorskip("torch")
    book.glue("t_x", 1.0)
    book.check("t_x", np.float64(1.0) > 0.5)
    book.check("t_x", torch.tensor(1.0) > 0.5)
    with pytest.raises(AssertionError):
        book.check("t_x", torch.tensor(1.0) < 0.5)
