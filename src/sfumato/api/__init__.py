"""HTTP wire format: FastAPI routers per Leonardo resource, wire schemas, error envelope."""
