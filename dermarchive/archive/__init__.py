"""The encrypted archive: keys, SQLCipher catalogue, blob store, audit log, users, records."""

from .archive import ROLES, Archive, User
from .keys import CHEAP_TEST_PARAMS, KdfParams

__all__ = ["ROLES", "Archive", "User", "KdfParams", "CHEAP_TEST_PARAMS"]
