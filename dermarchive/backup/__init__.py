"""Backups: the backup set on disk (:mod:`.set`), writing one (:mod:`.create`), checking and
restoring one (:mod:`.restore`)."""
