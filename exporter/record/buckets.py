"""The request_tokens histogram's bucket of a token count, without bisecting: a table
for the common counts, arithmetic for the rest (its buckets are powers of 4).

``record_request`` checks its arguments inline rather than calling a checker: a call
with eight arguments and an eight-tuple back cost 10% of it (bench_compare.py)."""

from __future__ import annotations

from bisect import bisect_left

from ..catalog import TOKEN_BUCKETS
from . import validation

MAX_SECONDS = validation.MAX_SECONDS
_MAX_COUNT = validation.MAX_COUNT
_TOK_INF = len(TOKEN_BUCKETS)
#: request_tokens bucket index of every token count below SMALL, looked up instead of
#: bisected (a tuple subscript is ~6x cheaper than bisect_left; 128 KiB once).
SMALL = 16384
TOKEN_INDEX = tuple(bisect_left(TOKEN_BUCKETS, n) for n in range(SMALL))


def token_index(n: int) -> int:
    """request_tokens bucket of a large count (buckets are powers of 4: arithmetic);
    IndexError (a refused value, in record_request's terms) beyond MAX_COUNT."""
    if n > _MAX_COUNT:
        raise IndexError(n)
    return min(((n - 1).bit_length() + 1) >> 1, _TOK_INF)
