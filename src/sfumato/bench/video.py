"""``sfumato bench video``: clips through HTTP and the worker against a direct pipeline call, and
the memory a streamed clip saves.

Throughput: ``--clips`` text-to-video requests (distinct prompts and seeds) go to a real
``sfumato serve`` (API and worker in one process) whose MOTION2 is ``--model``; a client
submits them one after another and polls each to COMPLETE, then fetches the MP4. The same
clips then run in this process as a plain diffusers call (``output_type="pil"``) plus an MP4
encode, the way a script would. The two alternate in rounds so the machine's other load
falls on both; the ratio is direct seconds over sfumato seconds.

Memory: one ``--memory-frames`` clip at ``--memory-size`` runs in a fresh process two ways —
sfumato's engine, which decodes the latents a few frames at a time and streams each frame to
the encoder, and the pipeline's own decode, which returns every frame at once before they are
encoded — and each process reports its peak resident memory and how far it rose above the
model-loaded baseline.
"""

from __future__ import annotations

import multiprocessing
import resource
import time
from pathlib import Path
from typing import Any

import typer

from sfumato.bench import app
from sfumato.bench.harness import API, DatabaseUrl, progress, throwaway_server
from sfumato.engine.catalog import FRAME_STEP, ModelEntry

PROMPTS = ("a lighthouse at dusk", "waves on a pier", "a red fox in snow", "a city at night")


@app.command("video")
def video(
    clips: int = typer.Option(8, help="Clips to run both ways."),
    model: str = typer.Option("tiny-ltx-video", help="Catalog key of the video model (MOTION2)."),
    size: int = typer.Option(64, help="Width and height of every clip."),
    duration: int = typer.Option(2, help="Seconds per clip (frames: duration × the model's fps + 1)."),
    rounds: int = typer.Option(2, help="Alternating rounds of sfumato and the direct call."),
    memory_frames: int = typer.Option(49, help="Frames of the memory phase's clip (0 to skip)."),
    memory_size: int = typer.Option(512, help="Width and height of the memory phase's clip."),
    threads: int = typer.Option(1, help="torch CPU threads, the same on both sides."),
    database_url: DatabaseUrl = None,
) -> None:
    """Print clips/s through sfumato and directly, their ratio, and peak RSS streamed vs held."""
    from sfumato.config import Settings
    from sfumato.engine import Catalog

    entry = Catalog.load().resolve(model)
    if entry is None or not entry.generates_video:
        raise typer.BadParameter(f"{model} is no video model of the catalog")
    frames = _frames(entry, duration)
    step = FRAME_STEP[entry.family]
    if memory_frames and (memory_frames - 1) % step:
        count = f"{model} draws {step}·k + 1 frames; {memory_frames} is not such a count"
        raise typer.BadParameter(count, param_hint="--memory-frames")
    specs = [
        {"prompt": f"{PROMPTS[n % len(PROMPTS)]}, take {n}", "width": size, "height": size,
         "duration": duration, "seed": 100 + n}
        for n in range(clips)
    ]  # fmt: skip
    served = direct = 0.0
    settings = {"poll_seconds": "0.05", "dedupe_window_seconds": "0"}
    # The server's user catalog points MOTION2 at the model under test.
    catalog = f'[motion_aliases]\nMOTION2 = "{model}"\n'
    with throwaway_server(
        database_url, worker=True, settings=settings, threads=threads, catalog=catalog
    ) as server:
        home = server.home
        [key] = server.keys(1)
        typer.echo(f"warming up {model} in sfumato's worker and in this process …")
        _through_sfumato(server.base, key, specs[:1])
        direct_loop = _Direct(Settings(home=home).resolved_models_dir / model, threads, entry)
        direct_loop.run(specs[:1])
        with progress() as bar:
            ours = bar.add_task("sfumato (HTTP + queue + worker + MP4)", total=clips)
            theirs = bar.add_task("direct (pipeline call + MP4)", total=clips)
            for share in (specs[i::rounds] for i in range(rounds)):
                served += _through_sfumato(server.base, key, share, lambda: bar.advance(ours))
                direct += direct_loop.run(share, lambda: bar.advance(theirs))
        models_dir = Settings(home=home).resolved_models_dir
        memory = _memory(models_dir, model, memory_frames, memory_size, threads) if memory_frames else None
    typer.echo(f"{clips} clips of {model} at {size}×{size}, {frames} frames ({duration} s at "
               f"{entry.fps} fps); {threads} torch thread(s); {rounds} rounds")  # fmt: skip
    typer.echo(f"sfumato: {clips / served:7.2f} clips/s ({served:.2f} s)")
    typer.echo(f"direct:  {clips / direct:7.2f} clips/s ({direct:.2f} s)")
    typer.echo(f"ratio sfumato / direct: {direct / served:.2f}")
    if memory is not None:
        typer.echo(f"peak RSS, one {memory_frames}-frame clip at {memory_size}×{memory_size}:")
        for name, (peak, base) in memory.items():
            rise = (peak - base) / 2**20
            typer.echo(f"  {name:<8} {peak / 2**20:8.1f} MiB peak, {rise:8.1f} MiB above the loaded model")


def _through_sfumato(
    base: str, key: str, specs: list[dict[str, Any]], tick: Any = lambda: None, poll: float = 0.1
) -> float:
    """Seconds from the first submission to the last clip's MP4 fetched: the clips are submitted
    together, then each is polled to COMPLETE in turn (sleeping only on a PENDING answer) and
    its MP4 downloaded."""
    import httpx

    headers = {"authorization": f"Bearer {key}"}
    started = time.perf_counter()
    with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
        pending = []
        for body in specs:
            answer = client.post(f"{API}/generations-text-to-video", json=body)
            if answer.status_code != 200:
                raise RuntimeError(f"submission refused ({answer.status_code}): {answer.text[:300]}")
            pending.append(answer.json()["motionVideoGenerationJob"]["generationId"])
        for generation_id in pending:
            while True:
                generation = client.get(f"{API}/generations/{generation_id}").json()["generations_by_pk"]
                if generation["status"] == "COMPLETE":
                    break
                if generation["status"] == "FAILED":
                    raise RuntimeError(f"clip failed: {generation.get('failureReason')}")
                time.sleep(poll)
            client.get(generation["generated_images"][0]["motionMP4URL"]).raise_for_status()
            tick()
    return time.perf_counter() - started


class _Direct:
    """The script a user would write: load the pipeline, call it for PIL frames, encode an MP4."""

    def __init__(self, path: Path, threads: int, entry: ModelEntry) -> None:
        import torch
        from diffusers import DiffusionPipeline

        torch.set_num_threads(threads)
        self.pipeline = DiffusionPipeline.from_pretrained(str(path))
        self.pipeline.set_progress_bar_config(disable=True)
        self.entry = entry

    def run(self, specs: list[dict[str, Any]], tick: Any = lambda: None) -> float:
        from fractions import Fraction

        import torch

        from sfumato.jobs.writers.mp4 import encode_mp4

        fps = self.entry.fps
        started = time.perf_counter()
        for body in specs:
            frames = self.pipeline(
                prompt=body["prompt"], width=body["width"], height=body["height"],
                num_frames=_frames(self.entry, body["duration"]),
                num_inference_steps=self.entry.default_steps,
                guidance_scale=self.entry.default_guidance, **_rate(self.entry),
                generator=torch.Generator("cpu").manual_seed(body["seed"]), output_type="pil",
            ).frames[0]  # fmt: skip
            encode_mp4(frames, Fraction(fps))
            tick()
        return time.perf_counter() - started


def _frames(entry: ModelEntry, duration: int) -> int:
    """What the service asks for: duration × fps + 1, rounded up to the family's count."""
    step = FRAME_STEP[entry.family]
    return -(-duration * entry.fps // step) * step + 1


def _rate(entry: ModelEntry) -> dict[str, Any]:
    """LTX-Video is told the frame rate (its positions scale with it), as the engine tells it."""
    return {"frame_rate": entry.fps} if entry.family == "ltx-video" else {}


def _memory(models_dir: Path, model: str, frames: int, size: int, threads: int) -> dict[str, tuple[int, int]]:
    """Peak and baseline RSS (bytes) of one clip streamed and held, each in a fresh process."""
    context = multiprocessing.get_context("spawn")
    results = {}
    for mode in ("streamed", "held"):
        answer, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=_one_clip, args=(sender, str(models_dir), model, frames, size, threads, mode)
        )
        process.start()
        sender.close()  # the child's end: the parent sees end-of-file when the child dies
        try:
            results[mode] = answer.recv()
        except EOFError:
            process.join()
            raise RuntimeError(
                f"the {mode} clip's process ended (exit code {process.exitcode}) without a measurement; "
                "its error is printed above"
            ) from None
        process.join()
    return results


def _one_clip(
    answer: Any, models_dir: str, model: str, frames: int, size: int, threads: int, mode: str
) -> None:
    from fractions import Fraction

    import torch

    from sfumato.engine import Catalog, Engine
    from sfumato.engine.video import VideoSpec, generate
    from sfumato.jobs.writers.mp4 import Mp4Encoder, encode_mp4

    torch.set_num_threads(threads)
    engine = Engine(Catalog.load(), Path(models_dir), device="cpu")
    entry = engine.catalog.resolve(model)
    assert entry is not None
    spec = VideoSpec(model_key=model, prompt="a lighthouse at dusk", negative_prompt=None, width=size,
                     height=size, frames=frames, fps=entry.fps, steps=entry.default_steps,
                     guidance_scale=entry.default_guidance, seed=1)  # fmt: skip
    small = VideoSpec(**{**vars(spec), "width": 64, "height": 64, "frames": 9})
    generate(engine, small, lambda _frame: None)  # load the model; this is the baseline
    base = _rss_now()
    if mode == "streamed":
        with Mp4Encoder(entry.fps) as encoder:
            generate(engine, spec, encoder.add)
            encoder.finish()
    else:
        with engine.pipelines.lease(entry) as loaded:
            pictures = loaded.pipeline(
                prompt=spec.prompt, width=size, height=size, num_frames=frames,
                num_inference_steps=spec.steps, guidance_scale=spec.guidance_scale, **_rate(entry),
                generator=torch.Generator("cpu").manual_seed(1), output_type="pil",
            ).frames[0]  # fmt: skip
        encode_mp4(pictures, Fraction(entry.fps))
    answer.send((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, base))


def _rss_now() -> int:
    """Resident bytes now (Linux ``/proc``)."""
    import os

    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")
