"""Use cases: the only layer that opens a unit of work. The CLI, the API and the web UI all call these."""
