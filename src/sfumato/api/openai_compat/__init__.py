"""The OpenAI-compatible surface under ``/v1``: OpenAI's Images and Models APIs as a wire
adapter over sfumato's own services (the same jobs, prices, limits and webhooks)."""
