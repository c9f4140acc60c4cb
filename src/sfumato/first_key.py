"""The first account's API key, handed over once and never into a log.

On a terminal the key is shown, with a ready-to-paste ``curl``. Anywhere else (a file, a
pipe, a log collector) it is written to ``$SFUMATO_HOME/admin-key``, readable by its
owner only, and the output names that file instead.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import TextIO

from rich.console import Console

from sfumato.config import Settings
from sfumato.service.keys import IssuedKey

KEY_FILE = "admin-key"
_EXAMPLE = (
    "-H 'content-type: application/json' "
    '-d \'{"prompt": "a lighthouse at dusk", "modelId": "tiny-sd15", '
    '"width": 64, "height": 64, "num_images": 1}\''
)


def hand_over(issued: IssuedKey, settings: Settings, stream: TextIO | None = None) -> Path | None:
    """Show the key on a terminal, else write it to the key file; the file's path, if written."""
    stream = stream or sys.stdout
    console = Console(file=stream)
    base = f"{settings.resolved_public_url}/api/rest/v1"
    who = f"the first account '{issued.username}'"
    if stream.isatty():
        console.print(f"\n[bold green]Created {who} and its API key (shown only once):[/bold green]")
        console.print(f"\n  {issued.api_key}\n")
        console.print("Try it:")
        console.print(
            f"  curl -s {base}/generations -H 'authorization: Bearer {issued.api_key}' {_EXAMPLE}\n",
            soft_wrap=True,
        )
        return None
    path = settings.resolved_home / KEY_FILE
    write_private(path, issued.api_key + "\n")
    console.print(f"Created {who}; its API key is in {path} (mode 0600), not in this output.", soft_wrap=True)
    console.print(
        f'Try it:\n  curl -s {base}/generations -H "authorization: Bearer $(cat {path})" {_EXAMPLE}',
        soft_wrap=True,
    )
    return path


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically; the file is never readable by anyone else."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            os.fchmod(f.fileno(), 0o600)  # exactly 0600, whatever the umask
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
