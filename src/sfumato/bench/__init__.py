"""``sfumato bench …``: benchmarks that print measured numbers and their ratios, one run each.

Each benchmark lives in its own module, registers its command on ``app`` and is imported
at the bottom of this file; heavy imports (torch, the engine) happen inside the
commands, so ``sfumato --help`` stays fast.
"""

from __future__ import annotations

import typer

app = typer.Typer(help="Benchmarks: measured numbers and ratios, one run.", no_args_is_help=True)

from sfumato.bench import batch, batch_run, e2e, editing, realtime, submit, train, video  # noqa: E402, F401  (each registers its command)
