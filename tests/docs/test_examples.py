"""Every example in the documentation runs, against one live sfumato with the tiny models.

Each fenced ``python``, ``bash`` and ``ts`` block of ``docs/`` is run as its own program
(``SFUMATO_URL`` and ``SFUMATO_API_KEY`` in its environment); a block that exits non-zero
fails its test. A block marked ``<!-- docs: output NAME -->`` must print what
``docs/snippets/NAME.txt`` holds (ids, keys, times and URL signatures normalised): the page
shows that file, so the output a reader sees is the output of the last run.
``SFUMATO_DOCS_UPDATE=1`` rewrites the snippets from this run instead of comparing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import httpx
import pytest

from sfumato.api.openapi_doc import recorded_examples
from tests.docs import recorder
from tests.docs.blocks import SNIPPETS, Block, all_blocks, normalise
from tests.docs.conftest import LiveServer
from tests.e2e.test_sdk_typescript import PROJECT as TS_PROJECT
from tests.e2e.test_sdk_typescript import node  # noqa: F401  (the fixture: Node with the SDK installed)

BLOCKS = all_blocks()
TIMEOUT = 300
UPDATE = os.environ.get("SFUMATO_DOCS_UPDATE") == "1"


def _command(block: Block, request: pytest.FixtureRequest, server: LiveServer) -> tuple[list[str], str]:
    """The program that runs ``block`` and the directory it runs in."""
    name = f"example_{uuid.uuid4().hex[:8]}"
    if block.language == "python":
        path = server.workdir / f"{name}.py"
        path.write_text(block.code)
        return [sys.executable, str(path)], str(server.workdir)
    if block.language == "bash":
        path = server.workdir / f"{name}.sh"
        path.write_text(block.code)
        return ["bash", "-euo", "pipefail", str(path)], str(server.workdir)
    node_binary = request.getfixturevalue("node")
    path = TS_PROJECT / f".{name}.mjs"  # beside node_modules, where the SDK is installed
    path.write_text(block.code)
    request.addfinalizer(lambda: path.unlink(missing_ok=True))
    return [node_binary, str(path)], str(server.workdir)


# one live server for every example: all of them on one test worker
pytestmark = pytest.mark.xdist_group("docs-examples")


@pytest.mark.parametrize("block", BLOCKS, ids=[block.id for block in BLOCKS])
def test_example_runs(block: Block, live_server: LiveServer, request: pytest.FixtureRequest) -> None:
    if block.skip is not None:
        pytest.skip(f"marked in the page: {block.skip}")
    command, cwd = _command(block, request, live_server)
    env = {
        **os.environ,
        **live_server.env,
        "PATH": f"{live_server.env['PATH']}{os.pathsep}{os.environ['PATH']}",
    }
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, (
        f"{block.id} ({block.language}) exited {result.returncode}\n"
        f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
    )
    if block.output is None:
        return
    printed = normalise(result.stdout, live_server.url)
    snippet = SNIPPETS / f"{block.output}.txt"
    if UPDATE:
        snippet.parent.mkdir(exist_ok=True)
        snippet.write_text(printed)
        return
    assert snippet.is_file(), f"{snippet} is missing: run with SFUMATO_DOCS_UPDATE=1 to write it"
    assert printed == snippet.read_text(), (
        f"{block.id} printed something other than the page shows ({snippet.name}); "
        "if the change is right, run with SFUMATO_DOCS_UPDATE=1 to refresh it"
    )


def test_every_shown_output_has_its_example() -> None:
    names = {block.output for block in BLOCKS if block.output}
    assert len(names) == len([block for block in BLOCKS if block.output]), "two blocks share an output name"
    orphans = {path.stem for path in SNIPPETS.glob("*.txt")} - names
    assert not orphans, f"snippets no example writes: {sorted(orphans)}"


def test_the_served_examples_are_answers_of_this_run(live_server: LiveServer) -> None:
    """Runs after the examples: the OpenAPI document's example answers
    (``src/sfumato/api/openapi_examples.json``) are those the examples just received."""
    recorded = live_server.recorder.examples
    assert recorded, "no example reached the API"
    if UPDATE:
        # merged into what is kept, so that a run of some examples keeps the others' answers;
        # operations the server no longer has are dropped
        document = httpx.get(f"{live_server.url}/openapi.json").json()
        operations = {f"{m.upper()} {path}" for path, ops in document["paths"].items() for m in ops}
        kept = {op: body for op, body in recorded_examples().items() if op in operations}
        recorder.write({**kept, **recorded}, live_server.url)
        return
    served = recorded_examples()
    missing = sorted(set(recorded) - set(served))
    assert not missing, f"answers with no served example: {missing}; run with SFUMATO_DOCS_UPDATE=1"
    for operation, body in recorded.items():
        shape = sorted(body) if isinstance(body, dict) else type(body).__name__
        kept = served[operation]
        assert shape == (sorted(kept) if isinstance(kept, dict) else type(kept).__name__), (
            f"{operation} now answers {shape}; run with SFUMATO_DOCS_UPDATE=1 to refresh its example"
        )
