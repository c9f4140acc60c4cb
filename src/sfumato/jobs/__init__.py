"""Kinds of jobs: each one declaration (``kind.JobKind``) in a module of ``jobs.kinds``.

Adding a kind is one engine module (what it computes), one kind module here (its payload,
runner, subject, lane, models, outputs and webhook event; its runner stores what it makes
with the writers of ``jobs.writers`` and returns their ``Artifact`` records), one entry in
``registry.KINDS``, one service use case that builds its payload and asks the kind for the
job's row, and its wire schemas (and a migration when its subject has a table of its own).
"""
