"""open_store(): which targets open which backend, and the errors for the others."""

from __future__ import annotations

from pathlib import Path

import pytest

from laneway.store import UnsupportedStore, open_store, store_path
from laneway.store.base import StoreError
from laneway.store.sqlite import SqliteStore


def test_store_path_forms(tmp_path: Path) -> None:
    assert store_path(tmp_path / "a.db") == tmp_path / "a.db"
    assert store_path(str(tmp_path / "a.db")) == tmp_path / "a.db"
    assert store_path(f"sqlite:///{tmp_path}/a.db") == tmp_path / "a.db"
    assert store_path("sqlite:///rel/a.db") == Path("rel/a.db")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("mysql://db.example/laneway", "'mysql':// is not a store laneway knows"),
        ("sqlite:///", "names no file"),
        ("  ", "empty"),
    ],
)
def test_unsupported_targets_say_what_works(target: str, message: str) -> None:
    with pytest.raises(UnsupportedStore, match=message) as info:
        open_store(target)
    assert "sqlite:///" in str(info.value)


def test_sqlalchemy_spelling_of_a_postgres_target_says_how_to_write_it() -> None:
    with pytest.raises(UnsupportedStore, match="postgresql://user@host:5432/db"):
        open_store("postgresql+psycopg://db.example/laneway")


def test_an_unreachable_postgres_target_is_unavailable_without_its_password() -> None:
    from laneway.store.postgres import StoreUnavailable
    from laneway.testing.postgres import free_port

    with pytest.raises(StoreUnavailable) as info:
        open_store(f"postgresql://laneway:s3cret-pw@127.0.0.1:{free_port()}/laneway?connect_timeout=2")
    assert "s3cret-pw" not in str(info.value)
    assert "laneway:***@127.0.0.1" in str(info.value)


def test_open_store_creates_the_file_private(tmp_path: Path) -> None:
    target = tmp_path / "deeper" / "laneway.db"
    store = open_store(f"sqlite:///{target}")
    try:
        assert isinstance(store, SqliteStore)
        assert target.exists()
        assert target.stat().st_mode & 0o077 == 0
    finally:
        store.close()


def test_a_file_that_is_not_a_store_is_refused_clearly(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("this is not a database, just some text that is long enough " * 20)
    with pytest.raises(StoreError, match="not a usable laneway store"):
        open_store(bogus)


def test_closed_store_says_so(tmp_path: Path) -> None:
    store = open_store(tmp_path / "x.db")
    store.close()
    store.close()  # closing twice is fine
    with pytest.raises(StoreError, match="closed"):
        store.revision()


def test_reopening_keeps_everything(tmp_path: Path) -> None:
    from store_objects import endpoint

    first = open_store(tmp_path / "x.db")
    created = first.create(endpoint("a"))
    first.close()
    second = open_store(tmp_path / "x.db")
    try:
        assert second.get("ModelEndpoint", created.key) == created
        assert second.revision() == 1
        assert [e.object.name for e in second.events_since(0)] == ["a"]
    finally:
        second.close()
