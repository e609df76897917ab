"""One router per feature; ``integraal.api.app`` mounts them all under ``/api``."""
