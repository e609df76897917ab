"""Identifiers used on Dutch claims: BSN (citizen number), AGB (provider code), UZOVI (insurer code).

Validation is pure and cheap so that importers and the API share one definition. Pseudonymisation is keyed
(HMAC) so a BSN never leaves the IGO in the clear, yet the same woman links across files of one key holder.
"""

from __future__ import annotations

import hashlib
import hmac

_BSN_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)


def is_valid_bsn(value: str) -> bool:
    """The BSN 11-test (elfproef): 9 digits, weighted sum with weights 9..2 and -1 divisible by 11, not 0."""
    if len(value) != 9 or not value.isdigit():
        return False
    total = sum(int(digit) * weight for digit, weight in zip(value, _BSN_WEIGHTS, strict=True))
    return total % 11 == 0 and total != 0


def is_valid_agb(value: str) -> bool:
    """AGB code: exactly 8 digits (the first two give the kind of provider, the zorgsoort)."""
    return len(value) == 8 and value.isdigit()


def is_valid_uzovi(value: str) -> bool:
    """UZOVI code of an insurer: exactly 4 digits."""
    return len(value) == 4 and value.isdigit()


def pseudonymise_bsn(bsn: str, key: bytes) -> str:
    """A stable pseudonym for a BSN under ``key`` (HMAC-SHA256, 20 hex characters).

    Without the key the BSN cannot be recovered or confirmed by trying all 10^9 numbers.
    """
    return hmac.new(key, bsn.encode("ascii"), hashlib.sha256).hexdigest()[:20]
