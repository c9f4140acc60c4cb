"""``sfumato bench …``: benchmarks that print measured numbers and their ratios, one run each.

Each benchmark lives in its own module and registers its command on ``app``; the
modules are imported lazily by ``sfumato.cli`` so that ``sfumato --help`` stays fast.
"""

from __future__ import annotations

import typer

app = typer.Typer(help="Benchmarks: measured numbers and ratios, one run.", no_args_is_help=True)
