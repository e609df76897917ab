"""Claims: the claim-line lifecycle, return codes and the wire formats to and from insurers (DOMAIN.md §4).

Pure domain core: no database, no HTTP, no files (the code lists are read from the package's own data).

- :mod:`integraal.claims.lifecycle`: the state machine of a claim line, with history and credit/debit corrections;
- :mod:`integraal.claims.returncodes`: Vektis COD954 return codes and COD027 processing codes, as data;
- :mod:`integraal.claims.batch`: the in-memory claim batch and return batch, and their problems;
- :mod:`integraal.claims.formats`: wire formats by name (``kz301``, ``kz302``).
"""
