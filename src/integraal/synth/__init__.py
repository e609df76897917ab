"""Synthetic birth-care regions for development, tests and demos (`integraal synth`).

Public API: `generate_region` builds a reproducible region (providers, IGOs, memberships, insurers,
contracts, pregnancies, activities, birth outcomes) as polars frames shaped exactly like the import CSV
files of docs/formats.md; `write_region` writes them; `Region.calibration` shows how the region compares
with the national figures it was calibrated to (sources in calibration.yaml). docs/synthetic.md explains
the model.
"""

from integraal.synth.calibration import CalibrationRow
from integraal.synth.generator import COLUMNS, Region, generate_region, write_region

__all__ = ["COLUMNS", "CalibrationRow", "Region", "generate_region", "write_region"]
