"""OwnTracks' Basic-auth logins that worked, read from memory: the header's base64 decoded
and its password (the driver's token) hashed once per login rather than once per request.

A pure memo: an `Authorization` value always decodes to the same user and token hash, and
whether that hash still names a driver is asked of the driver cache on every request
(usecases/driver_cache.py, invalidated on every process when a token changes), so a
revoked token is refused at once whatever is kept here. Only logins that found their
driver are kept (guessed ones cannot fill it), one that no longer does is dropped, and at
most MAX_LOGINS are (the oldest goes first): what it keeps is a few live drivers' tokens,
which travel in every one of their requests anyway.
"""

from __future__ import annotations

import base64

from server.base.auth import hash_token

MAX_LOGINS = 20_000  # header values (~100 bytes each): a few MB at most

# user, token hash (None: no password, only a name)
Login = tuple[str, str | None]


def decode_basic(value: str) -> Login:
    """`Basic` credentials (the part after the scheme) -> (user, hash of the password).
    Raises ValueError when they are not base64 of UTF-8 text.

    >>> user, token_hash = decode_basic("ZHJpdmVyOnNlY3JldA==")
    >>> user, token_hash == hash_token("secret")
    ('driver', True)
    >>> decode_basic("ZHJpdmVy")
    ('driver', None)
    """
    # non-ASCII or malformed base64, or not UTF-8: all ValueErrors
    user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    return user, hash_token(password) if password else None


class BasicLogins:
    def __init__(self, max_logins: int = MAX_LOGINS) -> None:
        self._max_logins = max_logins
        self._logins: dict[str, Login] = {}  # by the exact header value, oldest first

    def __len__(self) -> int:
        return len(self._logins)

    def decode(self, value: str) -> Login:
        """`decode_basic(value)`, from memory when it logged in before."""
        login = self._logins.get(value)
        return decode_basic(value) if login is None else login

    def worked(self, value: str) -> None:
        """The login (a value `decode` read) found its driver: keep it."""
        if value not in self._logins:
            while len(self._logins) >= self._max_logins:
                del self._logins[next(iter(self._logins))]
            self._logins[value] = decode_basic(value)  # once per login

    def failed(self, value: str) -> None:
        """The login found no driver (its token changed): forget it."""
        self._logins.pop(value, None)
