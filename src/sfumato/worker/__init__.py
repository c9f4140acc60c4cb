"""The loop joining the queue, the engine, blob storage and the ledger (see ``loop.Worker``)."""
