"""Sealed page records: pickled, signed with the app's secret, refused when anything differs."""

from __future__ import annotations

import pickle

import pytest

from livetemplate import PageNotFound, PageRecord, UnstorableError
from livetemplate.snapshot import MAC_SIZE, Sealer


class Model:
    def __init__(self) -> None:
        self.count = 3


def record(**fields: object) -> PageRecord:
    return PageRecord(id="p", template="counter", data={"title": "T"}, model=Model(),
                      errors={"count": "too big"}, created=12.5, **fields)  # type: ignore[arg-type]


def test_a_sealed_record_opens_to_the_same_values() -> None:
    sealer = Sealer("secret")
    sealed, mac = sealer.seal(record())
    opened, opened_mac = sealer.open("p", sealed)
    assert opened_mac == mac == sealed[:MAC_SIZE]
    assert (opened.template, opened.data, opened.errors, opened.created) == (
        "counter", {"title": "T"}, {"count": "too big"}, 12.5)
    assert isinstance(opened.model, Model) and opened.model.count == 3
    assert sealer.seal(record())[1] == mac  # the same state seals to the same MAC


def test_a_record_changed_or_signed_with_another_secret_is_refused() -> None:
    sealed, _ = Sealer("secret").seal(record())
    with pytest.raises(PageNotFound, match="signature"):
        Sealer("other").open("p", sealed)
    forged = sealed[:MAC_SIZE] + pickle.dumps((1, "counter", {}, None, {}, 0.0))
    with pytest.raises(PageNotFound, match="signature"):
        Sealer("secret").open("p", forged)


def test_a_record_of_another_format_is_refused() -> None:
    import hashlib
    import hmac

    sealer = Sealer("secret")
    body = pickle.dumps((99, "counter", {}, None, {}, 0.0))
    key = hmac.new(b"secret", b"livetemplate.page-record", hashlib.sha256).digest()
    sealed = hmac.new(key, body, hashlib.sha256).digest() + body
    with pytest.raises(PageNotFound, match="record format 99"):
        sealer.open("p", sealed)


def test_what_cannot_be_pickled_is_named() -> None:
    sealer = Sealer("secret")
    with pytest.raises(UnstorableError, match=r"page data 'callback' \(function\)"):
        sealer.seal(PageRecord(id="p", template="t", data={"callback": lambda: None}))
    local = type("Local", (), {})  # a class pickle cannot find by name
    with pytest.raises(UnstorableError, match="the data model"):
        sealer.check(local())
    sealer.check(Model())  # a module-level class with plain attributes is fine
