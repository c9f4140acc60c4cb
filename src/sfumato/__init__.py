"""sfumato: a self-hosted generative-media API server that speaks the Leonardo.Ai wire format."""

__version__ = "0.1.0"
