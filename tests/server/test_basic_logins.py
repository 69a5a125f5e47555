"""OwnTracks' Basic-auth logins kept decoded (server/edges/phone_apps/basic_logins.py)."""

from __future__ import annotations

import base64

import pytest

from server.base.auth import hash_token
from server.edges.phone_apps.basic_logins import BasicLogins


def credentials(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def test_only_logins_that_worked_are_kept_and_at_most_so_many() -> None:
    logins = BasicLogins(max_logins=2)
    ana, bob, cleo = credentials("ana", "t1"), credentials("bob", "t2"), credentials("cleo", "t3")
    assert logins.decode(ana) == ("ana", hash_token("t1"))
    assert len(logins) == 0  # decoding keeps nothing: a guess cannot fill it
    for value in (ana, bob, cleo):
        logins.worked(value)
    assert len(logins) == 2  # the oldest went
    assert logins.decode(cleo) == ("cleo", hash_token("t3"))
    logins.failed(cleo)  # its token changed
    logins.failed("never-kept")
    assert len(logins) == 1


def test_malformed_credentials_are_value_errors() -> None:
    logins = BasicLogins()
    for value in ("!!!!", "été", base64.b64encode(b"ana:\xff").decode()):
        with pytest.raises(ValueError):
            logins.decode(value)
    assert logins.decode(base64.b64encode(b"ana").decode()) == ("ana", None)  # a name alone
