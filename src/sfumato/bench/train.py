"""``sfumato bench train``: LoRA training steps/s through the job system against a bare peft loop.

The same pictures, resolution, batch size, rank, target modules and number of steps, in
turns: a training admitted as a custom model and run by an in-process worker (claim, the
dataset read back from the blob store, checkpoints every ``--checkpoint-every`` steps,
the LoRA uploaded, completion; no prompt suite), and a plain diffusers + peft loop written
out here on the pipeline loaded from the same directory. Both count from their model load
to their last step, so the ratio is what the job system costs a training.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import typer

from sfumato.bench import app
from sfumato.bench.harness import DatabaseUrl, account, in_process

COLOURS = [(220, 30, 30), (30, 200, 40), (20, 40, 210), (230, 220, 30)]


@app.command("train")
def train(
    steps: int = typer.Option(40, help="Optimizer steps of each training."),
    model: str = typer.Option("tiny-sd15", help="Catalog key of the base model (an sd15-family model)."),
    resolution: int = typer.Option(64, help="Training resolution."),
    checkpoint_every: int = typer.Option(50, help="The job's checkpoint interval, in steps (the default's)."),
    rounds: int = typer.Option(2, help="Trainings of each kind, taking turns."),
    threads: int = typer.Option(1, help="torch CPU threads."),
    database_url: DatabaseUrl = None,
) -> None:
    """Print steps/s of each and the ratio job system / bare loop."""
    import torch
    from PIL import Image

    from sfumato.engine import Engine
    from sfumato.service import datasets, training
    from sfumato.store.training_tables import MODEL, DatasetImage
    from sfumato.worker.loop import Worker

    torch.set_num_threads(threads)
    pictures = [Image.new("RGB", (resolution, resolution), colour) for colour in COLOURS]
    with in_process(database_url, training_base_models={"v1_5": model}, training_max_steps=steps,
                    training_checkpoint_steps=checkpoint_every, training_suite=[]) as ctx:  # fmt: skip
        engine = Engine(ctx.catalog, ctx.models_dir, device="cpu")
        engine.warm(model)  # built (tiny) and on disk before either side loads it
        principal = account(ctx, "bench")
        dataset_id = datasets.create_dataset(ctx, principal, "bench", None)
        with ctx.db.transaction() as session:
            for index, picture in enumerate(pictures):
                key = f"datasets/bench/{dataset_id}/{index}.png"
                ctx.blobs.put(key, _png(picture), "image/png")
                session.add(DatasetImage(dataset_id=dataset_id, account_id=principal.account_id, blob_key=key,
                                         content_type="image/png"))  # fmt: skip
        request = training.TrainingRequest(purpose=MODEL, name="bench", dataset_id=dataset_id,
                                           instance_prompt="sks colours", resolution=resolution,
                                           strength="HIGH", learning_rate=1e-3)  # fmt: skip
        entry = ctx.catalog.resolve(model)
        assert entry is not None
        path = ctx.catalog.weights_dir(entry, ctx.models_dir)
        job_times, bare_times = [], []
        for _ in range(rounds):
            training.create_training(ctx, principal, request)
            worker = Worker(db=ctx.db, engine=engine, blobs=ctx.blobs)
            started = time.perf_counter()
            while not worker.run_once():
                pass
            job_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            _bare_loop(path, pictures, steps=steps, resolution=resolution, learning_rate=1e-3)
            bare_times.append(time.perf_counter() - started)
    job, bare = min(job_times), min(bare_times)
    typer.echo(f"{steps} steps of {model} at {resolution}×{resolution}, batch 1, {len(pictures)} pictures, "
               f"{threads} torch thread(s), best of {rounds}")  # fmt: skip
    typer.echo(f"job system: {steps / job:7.2f} steps/s ({job:.2f} s)")
    typer.echo(f"bare peft : {steps / bare:7.2f} steps/s ({bare:.2f} s)")
    typer.echo(f"ratio job system / bare: {bare / job:.2f}")


def _png(picture: Any) -> bytes:
    import io

    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def _bare_loop(path: Path, pictures: list[Any], *, steps: int, resolution: int, learning_rate: float) -> None:
    """diffusers' text-to-image LoRA recipe, nothing else: load, adapters, latents, steps."""
    import numpy as np
    import torch
    from diffusers import DDPMScheduler, StableDiffusionPipeline
    from peft import LoraConfig

    from sfumato.engine.lora_objectives import UNET_TARGETS

    pipe = StableDiffusionPipeline.from_pretrained(
        str(path), safety_checker=None, requires_safety_checker=False
    )
    unet, vae, text_encoder = pipe.unet, pipe.vae, pipe.text_encoder
    for module in (unet, vae, text_encoder):
        module.requires_grad_(False)
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights="gaussian", target_modules=UNET_TARGETS))
    parameters = [p for p in unet.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=1e-2)
    scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    pixels = torch.stack([torch.from_numpy(np.asarray(p, dtype=np.float32) / 127.5 - 1).permute(2, 0, 1)
                          for p in pictures])  # fmt: skip
    with torch.no_grad():
        latent = vae.encode(pixels).latent_dist
        tokenizer = pipe.tokenizer
        tokens = tokenizer(
            "sks colours", padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
            return_tensors="pt",
        ).input_ids  # fmt: skip
        hidden = text_encoder(tokens)[0]
    generator = torch.Generator().manual_seed(0)
    for _ in range(steps):
        pick = torch.randint(0, len(pictures), (1,), generator=generator)
        latents = latent.mean[pick] + latent.std[pick] * torch.randn(
            latent.mean[pick].shape, generator=generator
        )
        latents = latents * vae.config.scaling_factor
        noise = torch.randn(latents.shape, generator=generator)
        timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (1,), generator=generator)
        predicted = unet(scheduler.add_noise(latents, noise, timesteps), timesteps, hidden).sample
        loss = torch.nn.functional.mse_loss(predicted, noise)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
