"""The encrypted archive: keys, SQLCipher catalogue, blob store, audit log, users, records."""

from .archive import ROLES, Archive, User
from .catalogue import Transaction
from .keys import CHEAP_TEST_PARAMS, KdfParams

__all__ = ["ROLES", "Archive", "User", "Transaction", "KdfParams", "CHEAP_TEST_PARAMS"]
