"""Pure domain model: value objects and entities of integrated birth care. No I/O lives here."""
