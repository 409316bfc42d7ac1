"""The engine flags the ticket's rows read, in both spellings engines accept."""

from laneway.ticket.engine_args import positive_flag

FLAGS = ("--max-num-seqs", "--max-running-requests")


def test_space_and_equals_spellings() -> None:
    assert positive_flag(["serve", "--max-num-seqs", "8"], FLAGS) == 8
    assert positive_flag(["--max-running-requests=12"], FLAGS) == 12


def test_first_given_wins() -> None:
    assert positive_flag(["--max-running-requests", "3", "--max-num-seqs", "9"], FLAGS) == 3


def test_missing_or_not_positive_is_none() -> None:
    assert positive_flag([], FLAGS) is None
    assert positive_flag(["--max-num-seqs"], FLAGS) is None
    assert positive_flag(["--max-num-seqs", "0"], FLAGS) is None
    assert positive_flag(["--max-num-seqs=-4"], FLAGS) is None
    assert positive_flag(["--max-num-seqs", "many"], FLAGS) is None
    assert positive_flag(["--max-num-seqs-extra", "5"], FLAGS) is None
