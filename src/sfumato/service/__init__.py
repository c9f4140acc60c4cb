"""Use-cases: plain Python between the wire (api/) and the ledger, blobs and engine."""
