"""Shipped data: the per-year catalogue of NZa prestaties, tariffs and policy parameters."""
