"""The built-in distribution models, one module each; importing this package registers them all."""

from integraal.distribution.models import (
    availability,
    capitation,
    discipline_shares,
    gain_sharing,
    overhead,
    quality_pool,
    relative_value,
    shadow_ffs,
    shapley,
)

__all__ = [
    "availability",
    "capitation",
    "discipline_shares",
    "gain_sharing",
    "overhead",
    "quality_pool",
    "relative_value",
    "shadow_ffs",
    "shapley",
]
