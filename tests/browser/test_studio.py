"""The studio in a real browser: sign in, generate, Get API Code, inpaint, a realtime frame,
compare, picture actions, video, keys and webhooks, accessibility, sign out — one page and one
live server shared by the module, in order."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from PIL import Image

from sfumato.service import prompts
from sfumato.store.models import Account
from sfumato.webhooks import signing
from tests.browser.conftest import LiveServer, api
from tests.e2e.test_sdk_typescript import PROJECT as TS_PROJECT
from tests.e2e.test_sdk_typescript import node  # noqa: F401  (the fixture: Node with the SDK and TypeScript)
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.xdist_group("studio")

HERE = Path(__file__).resolve().parent
DOCS = HERE.parents[1] / "docs"
AXE = HERE / "node_modules" / "axe-core" / "axe.min.js"
TIMEOUT = 60_000  # ms, for any wait
FIRST_LOAD = 240_000  # ms: the first picture of a kind builds and loads its tiny model on a busy machine


@pytest.fixture(scope="module")
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, errors


@pytest.fixture
def node_binary(request: pytest.FixtureRequest) -> str:
    """Node, with the official SDK and TypeScript installed in tests/ts (once per session)."""
    return str(request.getfixturevalue("node"))


def pixels(url: str) -> np.ndarray:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB")).astype(int)


def blob(url: str) -> str:
    """The object a signed URL names (the signature changes with each read)."""
    return urlsplit(url).path


def code_and_files(page: Any, button: str, folder: Path) -> dict[str, str]:
    """Open a form's Get API Code dialog: the code in each tab, the files it reads saved in ``folder``."""
    page.click(button)
    page.wait_for_selector("#code-dialog[open]")
    code = {}
    for tab in page.locator("#code-tabs [role=tab]").all():
        panel = tab.get_attribute("aria-controls")
        code[tab.get_attribute("id").removeprefix("code-tab-")] = page.text_content(f"#{panel} code")
    for link in page.locator("#code-files a").all():
        with page.expect_download() as download:
            link.click()
        download.value.save_as(folder / download.value.suggested_filename)
    page.keyboard.press("Escape")
    page.wait_for_selector("#code-dialog", state="hidden")
    return code


def run_python(code: str, folder: Path, server: LiveServer) -> str:
    """Run a snippet as a user would (its own process, the URL and key from the environment)."""
    (folder / "snippet.py").write_text(code)
    env = {**os.environ, "SFUMATO_URL": server.url, "SFUMATO_API_KEY": server.key}
    ran = subprocess.run([sys.executable, "snippet.py"], cwd=folder, env=env, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    return ran.stdout.strip()


def run_bash(code: str, folder: Path, server: LiveServer) -> str:
    """Run a curl script as a user would (bash, the URL and key from the environment)."""
    env = {**os.environ, "SFUMATO_URL": server.url, "SFUMATO_API_KEY": server.key}
    ran = subprocess.run(["bash", "-c", code], cwd=folder, env=env, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert ran.returncode == 0, ran.stderr + ran.stdout
    return ran.stdout.strip()


def run_typescript(node_path: str, code: str, folder: Path, server: LiveServer) -> str:
    """Type-check (strict) and run a TypeScript snippet as a user would, with the official SDK."""
    (folder / "snippet.ts").write_text(code)
    env = {**os.environ, "SFUMATO_URL": server.url, "SFUMATO_API_KEY": server.key}
    ran = subprocess.run([node_path, str(TS_PROJECT / "run-snippet.mjs"), "snippet.ts"], cwd=folder, env=env,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    return ran.stdout.strip()


def concurrency(server: LiveServer, slots: int) -> None:
    """Set the account's concurrency slots: at 0 its jobs wait in the queue, as behind other work."""
    with server.ctx.db.transaction() as session:
        account = session.get(Account, server.user_id)
        assert account is not None
        account.concurrency_slots = slots


def generation(server: LiveServer, generation_id: str) -> dict[str, Any]:
    return dict(api(server, "GET", f"/generations/{generation_id}").json()["generations_by_pk"])


def test_sign_in_generate_and_see_the_pictures(
    page: Any, live_server: LiveServer, artifacts: Path, record_property: Any
) -> None:
    page.goto("/")
    page.wait_for_selector("body[data-ready=true]")
    first_paint = page.evaluate(
        "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"
    )
    assert page.is_visible("#view-signin") and not page.is_visible("#nav")
    page.fill("#api-key", "sfu_wrong")
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#signin-error:has-text('not valid')")

    page.fill("#api-key", live_server.key)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#view-generate:not([hidden])")
    assert page.input_value("#api-key") == ""  # the page dropped the key
    assert live_server.key not in page.url
    assert page.evaluate("document.cookie") == ""  # the session cookie is HttpOnly
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert page.inner_text("#who-name") == "studio-user"

    # The model picker shows readiness; the tiny model is chosen with its own size.
    option = page.locator("#model option:checked").inner_text()
    assert "Tiny SD 1.5" in option and "ready" in option
    assert (page.input_value("#width"), page.input_value("#height")) == ("64", "64")
    # A template around the subject, then "Improve prompt" (/prompt/improve: templates without a prompt LM).
    page.fill("#prompt", "a fox")
    page.select_option("#template", label="Portrait")
    portrait = "a portrait of a fox, soft window light, 85mm"
    assert page.input_value("#prompt") == portrait
    with page.expect_response("**/prompt/improve"):
        page.click("#improve")
    page.wait_for_function("() => !document.querySelector('#improve').disabled")
    assert page.input_value("#prompt") == prompts.template_improve(portrait)
    page.fill("#prompt", "a red fox in the snow")
    page.fill("#num-images", "2")
    page.wait_for_selector("#cost:has-text('2 credits')")  # the pricing calculator, before submitting
    quote = api(live_server, "POST", "/pricing-calculator", json={
        "service": "IMAGE_GENERATION",
        "serviceParams": {"IMAGE_GENERATION": {"modelId": page.input_value("#model"), "imageWidth": 64,
                                               "imageHeight": 64, "numImages": 2}},
    }).json()["calculateProductionApiServiceCost"]["cost"]  # fmt: skip
    assert page.inner_text("#cost") == f"Cost: {quote} credits"

    started = time.monotonic()
    with page.expect_response(lambda r: r.url.endswith("/api/rest/v1/generations")) as created:
        page.click("#generate-submit")
    generation_id = created.value.json()["sdGenerationJob"]["generationId"]
    page.wait_for_selector("#job-status[data-state=complete]", timeout=FIRST_LOAD)
    card = page.locator(f"[data-generation='{generation_id}']")
    card.locator("img").nth(1).wait_for()
    page.wait_for_function(
        "id => [...document.querySelectorAll(`[data-generation='${id}'] img`)]"
        "  .every(image => image.naturalWidth === 64)",
        arg=generation_id,
    )
    first_image = time.monotonic() - started
    timings = {"first_contentful_paint_ms": first_paint, "time_to_first_image_s": round(first_image, 2)}
    (artifacts / "timings.json").write_text(json.dumps(timings, indent=2))
    record_property("studio_timings", timings)
    print(f"studio timings: {timings}")

    # What the page showed is what the server made: the pictures' URLs and the parameters.
    made = generation(live_server, generation_id)
    assert made["status"] == "COMPLETE" and made["prompt"] == "a red fox in the snow"
    urls = card.locator("img").evaluate_all("images => images.map(i => i.src)")
    assert [blob(url) for url in urls] == [blob(image["url"]) for image in made["generated_images"]]
    assert "Complete: 2 picture(s)." in page.inner_text("#job-status")
    if os.environ.get("SFUMATO_DOCS_SCREENSHOTS"):
        page.evaluate("() => window.scrollTo(0, 0)")
        page.screenshot(path=str(DOCS / "studio.png"))
    card.locator("summary", has_text="Lineage").click()
    assert str(made["imageSeeds"][0]) in card.locator("details pre").inner_text()
    page.screenshot(path=str(artifacts / "generate.png"), full_page=True)


def test_get_api_code_gives_snippets_that_send_the_same_request(
    page: Any, live_server: LiveServer, artifacts: Path, tmp_path: Path, node_binary: str
) -> None:
    page.fill("#prompt", "a lighthouse at dusk, 'quoted' \"twice\"")
    page.fill("#negative", "fog")
    page.select_option("#style", "CINEMATIC")
    page.select_option("#scheduler", "DDIM")
    page.click("#ratios button[data-ratio='4:3']")
    assert (page.input_value("#width"), page.input_value("#height")) == ("72", "56")
    page.fill("#num-images", "1")
    page.fill("#steps", "5")
    page.fill("#guidance", "6.5")
    page.fill("#seed", "4242")
    page.check("#seed-lock")

    page.click("#get-code")
    page.wait_for_selector("#code-dialog[open]")
    page.screenshot(path=str(artifacts / "api-code.png"))
    python = page.inner_text("#code-panel-python code")
    page.click("#code-copy")
    page.wait_for_selector("#code-status:has-text('copied')")
    assert page.evaluate("navigator.clipboard.readText()") == python
    page.click("#code-tab-curl")
    curl = page.inner_text("#code-panel-curl code")
    assert page.is_visible("#code-panel-curl") and not page.is_visible("#code-panel-python")
    typescript = page.text_content("#code-panel-typescript code")
    assert page.locator("#code-tab-openai").count() == 0  # a preset style and scheduler are not on /v1
    page.keyboard.press("Escape")
    page.wait_for_selector("#code-dialog", state="hidden")

    with page.expect_response(lambda r: r.url.endswith("/api/rest/v1/generations")) as created:
        page.click("#generate-submit")
    studio_id = created.value.json()["sdGenerationJob"]["generationId"]
    page.wait_for_selector("#job-status[data-state=complete]")

    snippet_id = run_python(python, tmp_path, live_server)
    curl_id = json.loads(run_bash(curl, tmp_path, live_server))["sdGenerationJob"]["generationId"]
    typescript_id = run_typescript(node_binary, typescript, tmp_path, live_server)
    ids = (studio_id, snippet_id, curl_id, typescript_id)
    assert len(set(ids)) == 4  # four requests (de-duplication is off here)

    fields = ("modelId", "prompt", "negativePrompt", "imageWidth", "imageHeight", "inferenceSteps",
              "guidanceScale", "seed", "scheduler", "presetStyle")  # fmt: skip
    recorded = [generation(live_server, gid) for gid in ids]
    expected = {"modelId": page.input_value("#model"), "prompt": "a lighthouse at dusk, 'quoted' \"twice\"",
                "negativePrompt": "fog", "imageWidth": 72, "imageHeight": 56, "inferenceSteps": 5,
                "guidanceScale": 6.5, "seed": 4242, "scheduler": "DDIM",
                "presetStyle": "CINEMATIC"}  # fmt: skip
    for made in recorded:
        assert {name: made[name] for name in fields} == expected


def test_paint_a_mask_and_inpaint_keeps_the_unmasked_pixels(
    page: Any, live_server: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    page.goto("/#generate")
    page.wait_for_selector("body[data-ready=true]")
    first = page.locator("#gallery .picture").first
    source_url = first.locator("img").get_attribute("src")
    first.get_by_role("button", name="Edit").click()
    page.wait_for_selector("#view-edit:not([hidden])")
    page.wait_for_selector("#edit-status:has-text('Picture loaded')")
    original = pixels(source_url)
    height, width = original.shape[:2]

    # Paint a band over the left third; the brush is 12 px wide on screen.
    box = page.locator("#edit-mask").bounding_box()
    page.fill("#brush", "40")
    for fraction in (0.12, 0.2):
        page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + box["height"] - 2, steps=8)
        page.mouse.up()
    assert "Inpainting" in page.locator("#edit-model option:checked").inner_text()
    page.fill("#edit-prompt", "a small boat")
    snippets = code_and_files(page, "#edit-code", tmp_path)
    python = snippets["python"]
    with page.expect_response(lambda r: r.url.endswith("/api/rest/v1/generations")) as created:
        page.click("#inpaint")
    assert created.value.ok, created.value.text()
    page.wait_for_selector("#edit-status[data-state=complete]", timeout=FIRST_LOAD)
    result_url = page.get_attribute("#edit-result", "src")
    page.wait_for_function("() => document.querySelector('#edit-result').naturalWidth > 0")
    page.screenshot(path=str(artifacts / "edit.png"), full_page=True)

    made = generation(live_server, page.get_attribute("#edit-result", "data-generation"))
    assert made["canvasRequest"] is True and made["canvasRequestType"] == "INPAINT"
    result = pixels(result_url)
    assert result.shape == original.shape
    right = slice(width // 2, width)
    assert np.array_equal(result[:, right], original[:, right])  # outside the mask: the same pixels
    painted = slice(int(width * 0.08), int(width * 0.24))
    assert np.abs(result[:, painted] - original[:, painted]).mean() > 2  # inside it: repainted
    assert height == made["imageHeight"]

    # Get API Code: the snippet uploads the same picture and mask and asks for the same edit.
    again = generation(live_server, run_python(python, tmp_path, live_server))
    fields = ("modelId", "prompt", "imageWidth", "imageHeight", "seed", "canvasRequest", "canvasRequestType",
              "initImageSha256", "maskImageSha256")  # fmt: skip
    assert {name: again[name] for name in fields} == {name: made[name] for name in fields}
    # The curl script too (curl and jq); its generation deleted at once, the gallery kept as it was.
    curled = json.loads(run_bash(snippets["curl"], tmp_path, live_server))["sdGenerationJob"]["generationId"]
    by_curl = generation(live_server, curled)
    assert {name: by_curl[name] for name in fields} == {name: made[name] for name in fields}
    assert api(live_server, "DELETE", f"/generations/{curled}").status_code == 200


def test_a_realtime_frame_and_a_stale_answer_dropped(
    page: Any, live_server: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    page.goto("/#draft")
    page.wait_for_selector("#view-draft:not([hidden])")
    box = page.locator("#draft-sketch").bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 20, box["y"] + box["height"] - 20, steps=6)
    page.mouse.up()

    held: list[Any] = []

    def hold_the_first(route: Any) -> None:
        if not held:
            held.append(route)  # answered later, after a newer request's answer
        else:
            route.continue_()

    page.route("**/api/rest/v1/generations-lcm", hold_the_first)
    with page.expect_request("**/generations-lcm") as first:
        page.fill("#draft-prompt", "a blue")
    assert json.loads(first.value.post_data)["requestTimestamp"] == "1"
    with page.expect_response("**/generations-lcm", timeout=FIRST_LOAD) as second:
        page.fill("#draft-prompt", "a blue vase of flowers")
    assert second.value.ok, second.value.text()
    page.wait_for_selector("#draft-out[data-timestamp='2']", timeout=FIRST_LOAD)
    assert page.evaluate("document.querySelector('#draft-out').naturalWidth") == 128
    with page.expect_response("**/generations-lcm", timeout=FIRST_LOAD):
        held[0].continue_()
    page.wait_for_selector("#draft-out[data-dropped='1']")
    assert page.get_attribute("#draft-out", "data-timestamp") == "2"  # the older answer did not replace it
    page.unroute("**/api/rest/v1/generations-lcm")

    # Get API Code: the same request from a script, reading the sketch the dialog offers.
    snippets = code_and_files(page, "#draft-code", tmp_path)
    run_python(snippets["python"], tmp_path, live_server)
    assert Image.open(tmp_path / "picture.png").size == (128, 128)
    curled = json.loads(run_bash(snippets["curl"], tmp_path, live_server))
    assert curled["lcmGenerationJob"]["imageDataUrl"][0].startswith("data:image/")

    page.click("#draft-upscale")  # the chosen draft, upscaled by the realtime upscaler
    page.wait_for_selector("#draft-final[data-operation='lcm-upscale']", timeout=FIRST_LOAD)
    page.wait_for_function("() => document.querySelector('#draft-final').naturalWidth === 256")
    page.screenshot(path=str(artifacts / "draft.png"), full_page=True)
    # Get API Code beside "Upscale": the same request on the draft the dialog offers (draft.png).
    upscale = code_and_files(page, "#draft-upscale-code", tmp_path)
    assert "perform_alchemy_upscale_lcm" in upscale["python"] and "/lcm-upscale" in upscale["curl"]
    run_python(upscale["python"], tmp_path, live_server)
    assert Image.open(tmp_path / "picture.png").size == (256, 256)


def test_compare_highlights_the_parameters_that_differ(page: Any, artifacts: Path) -> None:
    page.click("nav a[data-view=generate]")  # the gallery is read again: the snippets' work shows too
    boxes = page.locator("#gallery input[type=checkbox]")
    # Newest first, six to a page: the two inpaintings (the snippet's, the page's), the TypeScript, curl,
    # Python and page requests of the same form; then, on page two, the first generation's two pictures.
    page.wait_for_function("() => document.querySelectorAll('#gallery input[type=checkbox]').length === 6")
    page.click("#page-next")  # ticks are kept from page to page
    page.wait_for_selector("#page-label:has-text('Page 2')")
    page.wait_for_function("() => document.querySelectorAll('#gallery input[type=checkbox]').length === 2")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.click("nav a[data-view=compare]")
    page.wait_for_selector("#compare-table:not([hidden])")
    rows = "#compare-table tr.differs-row th"
    assert page.locator("#compare-table thead img").count() == 2
    assert page.locator(rows).all_text_contents() == ["Seed (differs)"]  # one batch: only the seeds differ

    page.click("nav a[data-view=generate]")
    page.click("#page-prev")
    page.wait_for_selector("#page-label:has-text('Page 1')")
    boxes.nth(5).check()  # the Get API Code request: another prompt, size, style, scheduler
    page.click("nav a[data-view=compare]")
    page.wait_for_selector("#compare-table thead img >> nth=2")
    differs = {name.removesuffix(" (differs)") for name in page.locator(rows).all_text_contents()}
    assert differs == {"Prompt", "Negative prompt", "Size", "Seed", "Steps", "Guidance", "Scheduler",
                       "Preset style"}  # fmt: skip
    assert page.locator("#compare-table td.differs").count() == 3 * len(differs)
    page.screenshot(path=str(artifacts / "compare.png"), full_page=True)


def _axe_source() -> str:
    if not AXE.is_file():
        npm = shutil.which("npm")
        if npm is None:
            if os.environ.get("CI"):
                pytest.fail("npm is needed for the accessibility check (axe-core); CI is set")
            pytest.skip("npm is needed for the accessibility check (axe-core) and is not on PATH")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, capture_output=True,
                       timeout=300)  # fmt: skip
    return AXE.read_text()


def test_upscale_a_picture_from_the_gallery(page: Any, live_server: LiveServer) -> None:
    page.click("nav a[data-view=generate]")
    picture = page.locator("#gallery .picture").last  # the Get API Code request's picture (72 × 56)
    picture.wait_for()
    image_url = picture.locator("img").get_attribute("src")
    picture.locator("summary", has_text="More").click()
    with page.expect_response("**/variations/upscale") as created:
        picture.locator("button[data-transform=upscale]").click()
    variation_id = created.value.json()["sdUpscaleJob"]["id"]
    link = page.locator("#gallery .picture").last.locator("li[data-transform=UPSCALE] a")
    link.wait_for(timeout=FIRST_LOAD)
    read = api(live_server, "GET", f"/variations/{variation_id}").json()
    variation = read["generated_image_variation_generic"][0]
    assert variation["status"] == "COMPLETE" and blob(link.get_attribute("href")) == blob(variation["url"])
    upscaled, original = pixels(variation["url"]), pixels(image_url)
    assert upscaled.shape[0] > original.shape[0] and upscaled.shape[1] > original.shape[1]


def test_image_to_image_without_a_mask_and_the_gallery_pages(
    page: Any, live_server: LiveServer, tmp_path: Path
) -> None:
    page.click("nav a[data-view=edit]")
    page.click("#mask-clear")
    page.select_option("#edit-mode", "IMG2IMG")
    page.fill("#edit-strength", "0.6")
    page.fill("#edit-prompt", "a watercolour")
    snippets = code_and_files(page, "#edit-code", tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["init.png"]  # no mask to upload
    with page.expect_response(lambda r: r.url.endswith("/api/rest/v1/generations")) as created:
        page.click("#inpaint")
    page.wait_for_selector("#edit-status[data-state=complete]")
    assert created.value.ok, created.value.text()
    made = generation(live_server, created.value.json()["sdGenerationJob"]["generationId"])
    again = generation(live_server, run_python(snippets["python"], tmp_path, live_server))
    assert made["status"] == "COMPLETE"  # the snippet's own may still be on its way
    for edit in (made, again):
        assert edit["canvasRequestType"] == "IMG2IMG"
        assert edit["initStrength"] == 0.6 and edit.get("maskImageSha256") is None
    assert again["initImageSha256"] == made["initImageSha256"]
    curled = json.loads(run_bash(snippets["curl"], tmp_path, live_server))["sdGenerationJob"]["generationId"]
    by_curl = generation(live_server, curled)
    assert (by_curl["canvasRequestType"], by_curl["initImageSha256"]) == ("IMG2IMG", made["initImageSha256"])
    assert api(live_server, "DELETE", f"/generations/{curled}").status_code == 200

    # Outpainting: the picture inside a transparent border of 8 px, the border repainted.
    shown = page.evaluate("() => document.querySelector('#edit-image').toDataURL('image/png')")
    source = np.asarray(
        Image.open(io.BytesIO(base64.b64decode(shown.split(",", 1)[1]))).convert("RGB")
    ).astype(int)
    page.select_option("#edit-mode", "OUTPAINT")
    assert "Inpainting" in page.locator("#edit-model option:checked").inner_text()
    page.fill("#edit-border", "8")
    page.fill("#edit-strength", "")
    with page.expect_response(lambda r: r.url.endswith("/api/rest/v1/generations")) as created:
        page.click("#inpaint")
    assert created.value.ok, created.value.text()
    page.wait_for_selector("#edit-status[data-state=complete]")
    outpainted = generation(live_server, created.value.json()["sdGenerationJob"]["generationId"])
    picture = pixels(outpainted["generated_images"][0]["url"])
    height, width = picture.shape[:2]
    assert outpainted["canvasRequestType"] == "OUTPAINT"
    assert (height, width) == (source.shape[0] + 16, source.shape[1] + 16)
    assert np.array_equal(picture[8:-8, 8:-8], source)  # the picture itself, kept pixel for pixel

    # Re-run a past request with one change: the Get API Code request, back in the form, with no
    # preset style or scheduler, which is a request the OpenAI surface takes too.
    page.click("nav a[data-view=generate]")
    card = page.locator("#gallery .card", has_text="a lighthouse at dusk").last
    card.get_by_role("button", name="Re-run with changes").click()
    assert page.input_value("#prompt") == "a lighthouse at dusk, 'quoted' \"twice\""
    assert (page.input_value("#seed"), page.input_value("#steps"), page.input_value("#style")) == (
        "4242", "5", "CINEMATIC")  # fmt: skip
    assert page.is_checked("#seed-lock")
    page.select_option("#style", "NONE")
    page.select_option("#scheduler", "")
    openai = code_and_files(page, "#get-code", tmp_path)["openai"]
    assert "extra_body=" in openai and '"seed": 4242' in openai
    url = run_python(openai, tmp_path, live_server)
    assert pixels(url).shape == (56, 72, 3)

    # Eleven generations now: the gallery shows six, and the first five on the next page.
    page.reload()
    page.wait_for_selector("#page-label:has-text('Page 1')")
    page.wait_for_function("() => document.querySelectorAll('#gallery .card').length === 6")
    assert page.is_disabled("#page-prev")
    page.click("#page-next")
    page.wait_for_selector("#page-label:has-text('Page 2')")
    assert page.locator("#gallery .card").count() == 5 and page.is_disabled("#page-next")
    assert page.locator("#gallery .card .prompt").last.inner_text() == "a red fox in the snow"
    page.click("#page-prev")
    page.wait_for_selector("#page-label:has-text('Page 1')")


def test_animate_a_picture_into_a_clip(page: Any, live_server: LiveServer) -> None:
    page.click("nav a[data-view=generate]")
    picture = page.locator("#gallery .picture").first  # the OpenAI request's picture
    picture.wait_for()
    picture.locator("summary", has_text="More").click()
    with page.expect_response("**/generations-motion-svd") as created:
        picture.locator("button[data-transform=animate]").click()
    assert created.value.ok, created.value.text()
    clip_id = created.value.json()["motionSvdGenerationJob"]["generationId"]
    video = page.locator(f"[data-generation='{clip_id}'] video")
    video.wait_for(timeout=FIRST_LOAD)
    made = generation(live_server, clip_id)
    assert made["status"] == "COMPLETE" and blob(video.get_attribute("src")) == blob(made["motionMP4URL"])
    response = httpx.get(made["motionMP4URL"], timeout=30)
    assert response.status_code == 200 and response.content[4:8] == b"ftyp"  # an MP4


def test_download_and_delete_from_the_gallery(page: Any, live_server: LiveServer, tmp_path: Path) -> None:
    page.click("nav a[data-view=generate]")
    card = page.locator("#gallery .card").nth(1)  # the OpenAI request's generation (the clip is first)
    generation_id = card.get_attribute("data-generation")
    made = generation(live_server, generation_id)
    with page.expect_download() as download:
        card.get_by_role("link", name="Download").first.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == f"sfumato-{generation_id[:8]}-1.png"
    assert saved.read_bytes() == httpx.get(made["generated_images"][0]["url"], timeout=30).content

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_response(f"**/generations/{generation_id}") as deleted:
        card.get_by_role("button", name="Delete").click()
    assert deleted.value.json() == {"delete_generations_by_pk": {"id": generation_id}}
    page.wait_for_selector(f"[data-generation='{generation_id}']", state="detached")
    assert api(live_server, "GET", f"/generations/{generation_id}").status_code == 404


def test_train_a_custom_model_on_gallery_pictures(
    page: Any, live_server: LiveServer, artifacts: Path, tmp_path: Path, node_binary: str
) -> None:
    page.click("nav a[data-view=generate]")
    page.wait_for_function("() => document.querySelectorAll('#gallery input[type=checkbox]').length >= 2")
    for box in page.locator("#gallery input[type=checkbox]").all()[:2]:
        box.check()
    page.click("nav a[data-view=train]")
    page.fill("#dataset-name", "studio pictures")
    page.click("#dataset-create")
    page.wait_for_selector("#dataset-status:has-text('0 pictures')")
    page.click("#dataset-add-chosen")
    page.wait_for_selector("#dataset-status:has-text('2 pictures')", timeout=FIRST_LOAD)
    assert page.locator("#dataset-images img").count() == 2
    page.fill("#train-name", "studio style")
    page.fill("#train-prompt", "sks style")
    params = {"MODEL_TRAINING": {"resolution": 512, "datasetImageCount": 2}}
    body = {"service": "MODEL_TRAINING", "serviceParams": params}
    answer = api(live_server, "POST", "/pricing-calculator", json=body).json()
    quote = answer["calculateProductionApiServiceCost"]["cost"]
    page.wait_for_selector(f"#train-cost:has-text('Cost: {quote} credits')")  # at the default 512 px
    page.fill("#train-resolution", "64")  # the tiny base model's size (priced as 512)

    with page.expect_response("**/api/rest/v1/models") as created:
        page.click("#train-submit")
    assert created.value.ok, created.value.text()
    model_id = created.value.json()["sdTrainingJob"]["customModelId"]
    page.wait_for_selector("#train-status[data-state=complete]", timeout=FIRST_LOAD)
    model = api(live_server, "GET", f"/models/{model_id}").json()["custom_models_by_pk"]
    assert model["status"] == "COMPLETE" and model["instancePrompt"] == "sks style"
    assert page.locator("#train-losses li").count() == len(model["lineage"]["losses"]) == 6  # the loss curve
    assert page.locator("#train-evaluation img").count() == len(model["evaluation"]) == 2
    page.wait_for_selector(f"#models-list [data-model='{model_id}']")

    # A second version on the same dataset, another instance prompt; then the two side by side.
    page.fill("#train-name", "studio style v2")
    page.fill("#train-prompt", "sks painting")
    with page.expect_response("**/api/rest/v1/models") as created:
        page.click("#train-submit")
    second_id = created.value.json()["sdTrainingJob"]["customModelId"]
    page.wait_for_selector(f"#train-status[data-state=complete][data-model='{second_id}']")
    page.wait_for_selector(f"#models-list [data-model='{second_id}']")
    for ident in (model_id, second_id):
        page.check(f"#version-{ident}")
    page.wait_for_selector("#versions:not([hidden])")
    assert page.locator("#versions thead th").all_inner_texts() == ["studio style", "studio style v2"]
    differs = {
        name.removesuffix(" (differs)")
        for name in page.locator("#versions tr.differs-row th").all_text_contents()
    }
    assert "Instance prompt" in differs and "Resolution" not in differs
    assert page.locator("#versions tr[data-suite] img").count() == 4  # two prompts, two versions
    page.screenshot(path=str(artifacts / "train.png"), full_page=True)

    # Get API Code on the training form: the same request through the Python SDK (not waited for).
    snippets = code_and_files(page, "#train-code", tmp_path)
    assert sorted(snippets) == ["curl", "python", "typescript"]
    again_id = run_python(snippets["python"], tmp_path, live_server)
    fields = ("name", "instancePrompt", "modelWidth", "sdVersion")
    again = api(live_server, "GET", f"/models/{again_id}").json()["custom_models_by_pk"]
    second = api(live_server, "GET", f"/models/{second_id}").json()["custom_models_by_pk"]
    assert {f: again[f] for f in fields} == {f: second[f] for f in fields} and again_id != second_id

    # A picture file added to the dataset too; then the dataset's Get API Code builds the same one (its
    # name, the gallery's pictures by id, the file offered beside the code) from Python, TypeScript and curl.
    mine = tmp_path / "mine" / "mine.png"
    mine.parent.mkdir()
    Image.new("RGB", (64, 64), (200, 120, 40)).save(mine)
    page.set_input_files("#dataset-files", str(mine))
    page.wait_for_selector("#dataset-status:has-text('3 pictures')")
    folder = tmp_path / "dataset"
    folder.mkdir()
    dataset_code = code_and_files(page, "#dataset-code", folder)
    assert sorted(p.name for p in folder.iterdir()) == ["picture-1.png"]
    by_python = run_python(dataset_code["python"], folder, live_server)
    by_typescript = run_typescript(node_binary, dataset_code["typescript"], folder, live_server)
    by_curl = run_bash(dataset_code["curl"], folder, live_server)
    for dataset_id in (by_python, by_typescript, by_curl):
        dataset = api(live_server, "GET", f"/datasets/{dataset_id}").json()["datasets_by_pk"]
        assert dataset["name"] == "studio pictures" and len(dataset["dataset_images"]) == 3


def test_remove_background_and_unzoom_a_picture_with_their_api_code(
    page: Any, live_server: LiveServer, tmp_path: Path, node_binary: str
) -> None:
    page.click("nav a[data-view=generate]")
    picture = page.locator("#gallery .picture:has(img)").first
    picture.wait_for()
    image_url = picture.locator("img").get_attribute("src")
    made = {}
    for route, key, transform in (("nobg", "sdNobgJob", "NOBG"), ("unzoom", "sdUnzoomJob", "UNZOOM")):
        picture.locator("summary", has_text="More").click()  # (the gallery is drawn anew after each job)
        with page.expect_response(f"**/variations/{route}") as created:
            picture.locator(f"button[data-transform={route}]").click()
        made[transform] = created.value.json()[key]["id"]
        picture.locator(f"li[data-transform={transform}] a").wait_for(timeout=FIRST_LOAD)
    views = {t: api(live_server, "GET", f"/variations/{i}").json()["generated_image_variation_generic"][0]
             for t, i in made.items()}  # fmt: skip
    assert all(view["status"] == "COMPLETE" for view in views.values())
    cutout = httpx.get(views["NOBG"]["url"], timeout=30)
    assert Image.open(io.BytesIO(cutout.content)).mode == "RGBA"  # the background made transparent
    original, framed = pixels(image_url), pixels(views["UNZOOM"]["url"])
    assert framed.shape[0] > original.shape[0] and framed.shape[1] > original.shape[1]  # zoomed out

    # Get API Code beside each action: the same job on the same picture, from Python and TypeScript.
    picture.locator("summary", has_text="More").click()
    nobg = code_and_files(
        page, "#gallery .picture:has(img) >> nth=0 >> button[data-code=remove-background]", tmp_path
    )
    unzoom = code_and_files(page, "#gallery .picture:has(img) >> nth=0 >> button[data-code=unzoom]", tmp_path)
    assert sorted(nobg) == sorted(unzoom) == ["curl", "python", "typescript"]
    by_python = run_python(nobg["python"], tmp_path, live_server)
    by_typescript = run_typescript(node_binary, unzoom["typescript"], tmp_path, live_server)
    for variation_id, transform in ((by_python, "NOBG"), (by_typescript, "UNZOOM")):
        view = api(live_server, "GET", f"/variations/{variation_id}").json()[
            "generated_image_variation_generic"
        ][0]
        assert view["transformType"] == transform and variation_id not in made.values()


def test_video_from_text_and_from_a_picture_queued_then_played(
    page: Any, live_server: LiveServer, artifacts: Path, tmp_path: Path, node_binary: str
) -> None:
    page.click("nav a[data-view=video]")
    page.fill("#video-prompt", "waves at night")
    page.fill("#video-duration", "1")
    page.fill("#video-seed", "7")
    text_code = code_and_files(page, "#video-code", tmp_path)
    page.wait_for_selector("#video-cost:has-text('credits')")  # the price, before submitting
    assert "createTextToVideoGeneration" in text_code["typescript"]

    # While the job waits for a slot the page says so, with its place in the queue.
    slots = api(live_server, "GET", "/me").json()["user_details"][0]["apiConcurrencySlots"]
    concurrency(live_server, 0)
    try:
        with page.expect_response("**/generations-text-to-video") as created:
            page.click("#video-submit")
        job = created.value.json()["motionVideoGenerationJob"]
        clip_id = job["generationId"]
        assert page.inner_text("#video-cost") == f"Cost: {job['apiCreditCost']} credits"  # quoted as charged
        page.wait_for_selector("#video-status[data-state=queued]:has-text('position 1')")
        assert generation(live_server, clip_id)["status"] == "PENDING"
    finally:
        concurrency(live_server, slots)
    page.wait_for_selector("#video-status[data-state=complete]", timeout=FIRST_LOAD)
    clip = generation(live_server, clip_id)
    assert blob(page.get_attribute("#video-out", "src")) == blob(clip["generated_images"][0]["motionMP4URL"])
    assert page.is_visible("#video-out")
    by_typescript = generation(
        live_server, run_typescript(node_binary, text_code["typescript"], tmp_path, live_server)
    )
    fields = ("prompt", "motionModel", "seed", "imageWidth", "imageHeight", "imageToVideo")
    assert {f: by_typescript.get(f) for f in fields} == {f: clip.get(f) for f in fields}
    assert clip["motionModel"] == "MOTION2" and clip["seed"] == 7

    # Image to video: "Make a video" on a picture of the gallery, the picture as the first frame.
    page.click("nav a[data-view=generate]")
    picture = page.locator("#gallery .picture:has(img)").first
    image_id = picture.locator("input[type=checkbox]").get_attribute("id").removeprefix("cmp-")
    picture.locator("summary", has_text="More").click()
    picture.locator("button[data-transform=video]").click()
    page.wait_for_selector("#view-video:not([hidden]) #video-picture:not([hidden])")
    picture_code = code_and_files(page, "#video-code", tmp_path)
    assert "create_image_to_video_generation" in picture_code["python"]
    with page.expect_response("**/generations-image-to-video") as created:
        page.click("#video-submit")
    from_picture = created.value.json()["motionVideoGenerationJob"]["generationId"]
    page.wait_for_selector(f"#video-out[data-generation='{from_picture}']", timeout=FIRST_LOAD)
    by_python = generation(live_server, run_python(picture_code["python"], tmp_path, live_server))
    for made in (generation(live_server, from_picture), by_python):
        assert made["imageToVideo"] is True and made["initGeneratedImageId"] == image_id
    page.screenshot(path=str(artifacts / "video.png"), full_page=True)


def test_keys_and_a_webhook_from_the_account_page(
    page: Any, live_server: LiveServer, artifacts: Path, tmp_path: Path
) -> None:
    page.goto("/#account")
    page.wait_for_selector("#account-facts dd")
    with Receiver() as receiver:
        page.fill("#key-name", "laptop")
        page.fill("#key-webhook", receiver.url)
        # Get API Code: curl alone (the SDKs lack sfumato's key routes); it makes the same key.
        key_code = code_and_files(page, "#key-code", tmp_path)
        assert list(key_code) == ["curl"]
        by_curl = json.loads(run_bash(key_code["curl"], tmp_path, live_server))["api_key"]
        assert (by_curl["name"], by_curl["webhookUrl"]) == ("laptop", receiver.url)
        assert by_curl["webhookSecret"] and by_curl["apiKey"]
        assert api(live_server, "DELETE", f"/me/api-keys/{by_curl['id']}").status_code == 200
        with page.expect_response("**/me/api-keys") as created:
            page.click("#key-create")
        answer = created.value.json()["api_key"]
        page.wait_for_selector("#key-issued:not([hidden])")
        issued = page.inner_text("#key-issued-facts")
        assert answer["apiKey"] in issued and answer["webhookSecret"] in issued  # shown, once
        row = page.locator(f"#keys tr[data-key='{answer['id']}']")
        row.wait_for()
        assert row.locator("input[type=url]").input_value() == receiver.url
        laptop = LiveServer(
            url=live_server.url, ctx=live_server.ctx, key=answer["apiKey"], user_id=live_server.user_id
        )

        # A job made with the new key ends with a signed POST to its receiver; then re-sent from the page.
        generation_id = api(laptop, "POST", "/generations", json={
            "modelId": "tiny-sd15", "prompt": "a kite", "width": 64, "height": 64, "num_images": 1}).json()[
            "sdGenerationJob"]["generationId"]  # fmt: skip
        receiver.wait_for(lambda r: len(r.acknowledged()) == 1, timeout=FIRST_LOAD / 1000)
        first = receiver.received[0]
        signing.verify(answer["webhookSecret"], first.headers, first.body)  # the secret the page showed
        assert json.loads(first.body)["data"]["object"]["id"] == generation_id
        page.click("nav a[data-view=generate]")
        page.click("nav a[data-view=account]")
        delivery = page.locator("#deliveries tbody tr", has_text="image_generation.complete").first
        delivery.wait_for()
        with page.expect_response("**/resend"):
            delivery.get_by_role("button", name="Re-send").click()
        receiver.wait_for(lambda r: len(r.acknowledged()) == 2)
        assert receiver.received[1].headers["webhook-id"] == first.headers["webhook-id"]
        assert receiver.received[1].body == first.body

        # Both attempts listed under the delivery (time, HTTP status, duration), as the API records them.
        delivery_id = delivery.locator("details").get_attribute("data-attempts")
        path = f"/webhooks/deliveries/{delivery_id}"

        def attempt_log() -> list[dict[str, Any]]:
            return list(api(laptop, "GET", path).json()["webhook_delivery"]["attemptLog"])

        receiver.wait_for(lambda _: len(attempt_log()) == 2)
        page.wait_for_selector("#view-account[data-state=ready]")  # the re-send's redraw is done
        attempts = page.locator(f"#deliveries details[data-attempts='{delivery_id}']")
        attempts.locator("summary").click()
        attempts.locator("li").nth(1).wait_for()
        log = attempt_log()
        shown = attempts.locator("li").all_inner_texts()
        assert [line.split(" · ")[1:] for line in shown] == [
            [f"HTTP {a['statusCode']}", f"{a['durationMs']} ms"] for a in log
        ] and log[0]["statusCode"] == 200
        limits = api(live_server, "GET", "/me/limits").json()["limits"]
        facts = page.inner_text("#account-limits")
        assert f"{limits['rateLimitPerKey'][0]}" in facts and f"of at most {limits['maxQueuedJobs']}" in facts
        page.screenshot(path=str(artifacts / "account-keys.png"), full_page=True)

    # The webhook moved off, then the key revoked: it stops working at once.
    row.locator("input[type=url]").fill("")
    with page.expect_response(f"**/me/api-keys/{answer['id']}/webhook"):
        row.locator("button[data-save-webhook]").click()
    page.wait_for_function(
        f"() => !document.querySelector(\"#keys tr[data-key='{answer['id']}'] input\").value"
    )
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_response(f"**/me/api-keys/{answer['id']}"):
        row.locator("button[data-revoke]").click()
    page.wait_for_selector(f"#keys tr[data-key='{answer['id']}'] td:has-text('revoked')")
    assert api(laptop, "GET", "/me").status_code == 401
    assert api(live_server, "GET", "/me").status_code == 200  # the session's own key is untouched


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    axe = _axe_source()
    # Served from the page's own origin, so the page's Content-Security-Policy lets it run.
    page.route("**/axe-under-test.js", lambda route: route.fulfill(body=axe, content_type="text/javascript"))
    page.add_script_tag(url="/axe-under-test.js")
    report = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{violation['id']}: {violation['help']} ({len(violation['nodes'])} nodes)"
        for violation in report["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def test_accessibility_keyboard_focus_and_a_narrow_screen(page: Any, artifacts: Path) -> None:
    serious: dict[str, list[str]] = {}
    for view in ("generate", "draft", "edit", "video", "compare", "train", "account"):
        page.goto(f"/#{view}")
        page.reload()
        page.wait_for_selector(f"#view-{view}:not([hidden])")
        if found := serious_violations(page):
            serious[view] = found
    assert not serious, serious

    # Keyboard, on a fresh tab: the skip link comes first, and focus is drawn where it lands.
    fresh = page.context.new_page()
    fresh.goto("/#generate")
    fresh.wait_for_selector("body[data-ready=true]")
    fresh.keyboard.press("Tab")
    assert fresh.evaluate("document.activeElement.className") == "skip-link"
    fresh.keyboard.press("Tab")
    assert fresh.evaluate("getComputedStyle(document.activeElement).outlineStyle") not in ("none", "")
    fresh.close()

    # 390 px wide: nothing scrolls sideways, and the form is still usable.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/#generate")
    page.wait_for_selector("body[data-ready=true]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.locator("#generate-submit").is_visible()
    page.screenshot(path=str(artifacts / "generate-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_account_then_sign_out_ends_the_session(page: Any, live_server: LiveServer, artifacts: Path) -> None:
    page.goto("/#account")
    page.wait_for_selector("#account-facts dd")
    assert "studio-user" in page.inner_text("#account-facts")
    me = api(live_server, "GET", "/me").json()["user_details"][0]
    assert str(me["apiSubscriptionTokens"]) in page.inner_text("#account-facts")
    debits = page.locator("#ledger tr[data-kind=debit]")
    assert debits.count() >= 5  # the generations, edits, canvas frames and upscale above
    assert page.inner_text("#ledger tbody tr >> nth=0").endswith(str(me["apiSubscriptionTokens"]))
    assert "(this session)" in page.inner_text("#keys") and live_server.key[:12] in page.inner_text("#keys")
    page.screenshot(path=str(artifacts / "account.png"), full_page=True)
    page.click("#sign-out")
    page.wait_for_selector("#view-signin:not([hidden])")
    status = page.evaluate("fetch('/api/rest/v1/me').then(r => r.status)")
    assert status == 401
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert page.is_visible("#view-signin")
    assert not serious_violations(page)
