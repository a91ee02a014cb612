"""A write that references a row (a subnet, a security group) which a
concurrent transaction deleted after this one read it: the insert fails its
foreign key. Running the transaction again reads the new state and answers
as upstream (404 not found, 400), never a 500. Costs nothing on the hot
path: only a failing insert pays."""
from __future__ import annotations

from typing import Callable, TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from neutrino.db.engine import RetryTransaction

T = TypeVar("T")

_MYSQL_FK_ERRNOS = {1451, 1452}   # parent row in use / no parent row


def is_foreign_key_violation(exc: IntegrityError) -> bool:
    orig = exc.orig
    if (getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)) == "23503":
        return True
    args = getattr(orig, "args", ())
    if args and args[0] in _MYSQL_FK_ERRNOS:
        return True
    return "FOREIGN KEY constraint failed" in str(orig)


def retry_if_parent_vanished(fn: Callable[[Connection], T]) -> Callable[[Connection], T]:
    """Wrap a transaction function: a foreign key violation retries it."""
    def txn(conn: Connection) -> T:
        try:
            return fn(conn)
        except IntegrityError as exc:
            if is_foreign_key_violation(exc):
                raise RetryTransaction(f"a referenced row vanished: {exc.orig}") from None
            raise
    return txn
