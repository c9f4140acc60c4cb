"""Settings, read once from ``SFUMATO_*`` environment variables (pydantic-settings).

Every knob of the server lives here so that the layers below receive plain values
and never read the environment themselves.
"""

from __future__ import annotations

import os
import secrets
import time
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SFUMATO_", env_file=None, extra="ignore")

    home: Path = Field(default=Path(".sfumato"), description="State directory (database, blobs, models).")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default SQLite (WAL) at $SFUMATO_HOME/sfumato.db.",
    )
    blob_dir: Path | None = Field(
        default=None, description="Local blob directory; default $SFUMATO_HOME/blobs."
    )
    models_dir: Path | None = Field(default=None, description="Model weights; default $SFUMATO_HOME/models.")
    catalog_file: Path | None = Field(default=None, description="Extra model catalog TOML.")
    model_aliases: dict[str, str] = Field(
        default_factory=dict, description="JSON object: Leonardo model UUID -> local model key."
    )
    default_model_id: str = Field(
        default="b24e16ff-06e3-43eb-8d33-4416c2d75876",
        description="Model used when a request names none (Leonardo's SDK default id, an alias).",
    )
    public_url: str | None = Field(
        default=None, description="Base URL clients reach sfumato at; default http://HOST:PORT."
    )
    host: str = Field(default="127.0.0.1", description="Address `sfumato serve` listens on.")
    port: int = Field(default=8000, description="Port `sfumato serve` listens on.")
    secret_key: str | None = Field(
        default=None,
        description="HMAC key for signed URLs; default a random key kept in $SFUMATO_HOME.",
    )
    url_ttl_seconds: int = Field(default=7 * 24 * 3600, description="Lifetime of signed image URLs.")

    # Blob storage and uploads (init images, canvas masks).
    blob_backend: Literal["local", "s3"] = Field(
        default="local", description="local: $SFUMATO_BLOB_DIR, served by sfumato; s3: an S3 bucket."
    )
    s3_bucket: str | None = Field(default=None, description="Bucket of the s3 backend (required for it).")
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (MinIO, R2, …); default AWS. Path-style when set."
    )
    s3_region: str | None = Field(default=None, description="Bucket region; default boto3's own.")
    s3_public_url: str | None = Field(
        default=None, description="Public or CDN base URL of the bucket's objects; default presigned GETs."
    )
    upload_max_bytes: int = Field(default=20 * 1024 * 1024, description="Largest uploaded image file.")
    upload_max_pixels: int = Field(
        default=4096 * 4096, description="Most pixels an uploaded image may decode to (decompression bombs)."
    )
    upload_url_ttl_seconds: int = Field(default=900, description="Lifetime of a presigned upload form.")
    # Uploaded media (``/media``): images take the limits above; short videos these.
    media_video_max_bytes: int = Field(default=64 * 1024 * 1024, description="Largest uploaded video file.")
    media_video_max_seconds: float = Field(default=30.0, description="Longest uploaded video, in seconds.")
    media_video_max_frames: int = Field(default=900, description="Most frames an uploaded video may hold.")
    media_video_max_pixels: int = Field(
        default=1920 * 1080, description="Most pixels one frame of an uploaded video may have."
    )

    device: str = Field(default="auto", description="auto | cpu | cuda | cuda:N | mps")
    max_loaded_models: int = Field(
        default=2, description="Pipelines a worker keeps in memory (least recently used evicted)."
    )

    # Engine fast paths (engine/fast_paths.py; docs/performance.md has the measurements).
    channels_last: bool = Field(
        default=True,
        description="Run the UNet and VAE convolutions in channels-last (NHWC) layout; pixels stay "
        "within one level of eager mode.",
    )
    fuse_qkv: bool = Field(
        default=True,
        description="Fuse each attention's query, key and value projections into one matrix product "
        "(diffusers' fuse_qkv_projections); pixels stay within one level of eager mode. The separate "
        "weights stay loaded for LoRA runs: +6.6% UNet parameters for SD 1.5, +25% for SDXL.",
    )
    attention_backend: Literal["auto", "flash", "efficient", "cudnn", "math"] = Field(
        default="auto",
        description="Scaled-dot-product attention kernel; auto lets PyTorch pick the fastest the "
        "inputs allow, a name forces that kernel.",
    )
    text_embedding_cache: int = Field(
        default=64,
        ge=0,
        description="Prompt encodings a worker keeps per loaded model, so a repeated prompt skips the "
        "text encoders (pixels unchanged); 0 = none.",
    )
    compile: bool = Field(
        default=False,
        description="torch.compile the denoiser and VAE decoder, once per image shape; compiled kernels "
        "are kept in $SFUMATO_HOME/compile-cache for the next start.",
    )
    compile_mode: Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"] = Field(
        default="default",
        description="torch.compile mode; reduce-overhead adds CUDA graphs (static shapes only).",
    )
    compile_warmup: list[str] = Field(
        default_factory=list,
        description='JSON list: shapes a worker runs once at start, e.g. ["sdxl@1024x1024", '
        '"sd15@512x512x8"] (MODEL@WIDTHxHEIGHT[xIMAGES]), so compiling is not charged to a job.',
    )
    quality_mode: Literal["full", "fast"] = Field(
        default="full",
        description="fast: DeepCache-style feature reuse, the UNet's inner blocks run every "
        "SFUMATO_FEATURE_REUSE_INTERVAL-th step only; faster, pictures change (docs/performance.md).",
    )
    feature_reuse_interval: int = Field(
        default=3, ge=2, description="quality_mode fast: run the whole UNet every N-th step."
    )

    worker_id: str | None = Field(
        default=None, description="A worker's name in leases and lineage; default host:pid:random."
    )
    lease_seconds: float = Field(default=60.0, description="A job's lease; renewed by heartbeats.")
    heartbeat_seconds: float = Field(default=10.0, description="How often a worker renews its leases.")
    poll_seconds: float = Field(default=0.5, description="Queue poll interval when idle.")
    max_attempts: int = Field(default=3, description="Executions of one job before it fails for good.")

    default_credits: int = Field(default=10_000, description="Credits granted to a new account.")
    concurrency_slots: int = Field(default=2, description="Jobs an account may run at once.")

    # Production controls: prices, limits, idempotency, webhooks, prompt tools, logs.
    pricing_file: Path | None = Field(
        default=None, description="Price overrides (TOML); default $SFUMATO_HOME/pricing.toml if present."
    )
    redis_url: str | None = Field(
        default=None, description="Redis for rate-limit counters shared by all nodes; in memory if unset."
    )
    key_cache_seconds: float = Field(
        default=5.0,
        description="Seconds an API node trusts a key it has checked; a key revoked on another node "
        "stops working there within this time. 0 = check every request.",
    )
    studio_session_hours: float = Field(
        default=12.0,
        gt=0,
        description="Lifetime of a studio sign-in (the browser session an API key is exchanged for).",
    )
    rate_limit_per_key: str = Field(
        default="100/second", description="Requests per API key, e.g. '100/second;2000/minute'; '' = none."
    )
    rate_limit_per_account: str = Field(
        default="200/second", description="Requests per account over all its keys; '' = none."
    )
    max_json_body_bytes: int = Field(
        default=1024 * 1024,
        description="Largest JSON request body; larger ones get 413 unread. Canvas requests get room "
        "for their images on top (SFUMATO_UPLOAD_MAX_BYTES each, base64-encoded).",
    )
    max_images: int = Field(default=8, description="Most images one request may ask for.")
    max_resolution: int = Field(default=1536, description="Longest side, in pixels, of a requested image.")
    max_steps: int = Field(default=60, description="Most inference steps one request may ask for.")
    max_video_seconds: float = Field(default=10.0, description="Longest video one request may ask for.")
    max_video_frames: int = Field(default=257, description="Most frames one video may have.")
    max_video_resolution: int = Field(
        default=1920, description="Longest side, in pixels, of a requested video (1080p is 1920 wide)."
    )
    daily_credit_budget: int = Field(
        default=0, description="Credits an account may spend per UTC day; 0 = no budget."
    )
    idempotency_ttl_seconds: int = Field(default=24 * 3600, description="Idempotency-Key lifetime.")
    dedupe_window_seconds: float = Field(
        default=600.0, description="Identical seeded generations within this window are not re-run; 0 = off."
    )
    webhook_delivery: bool = Field(default=True, description="Run the webhook delivery thread.")
    webhook_allow_hosts: str = Field(
        default="", description="Comma-separated hosts or CIDRs webhooks may reach despite being private."
    )
    webhook_timeout_seconds: float = Field(default=10.0, description="Per-attempt webhook timeout.")
    webhook_max_attempts: int = Field(default=15, description="Attempts before giving up.")
    webhook_backoff_seconds: float = Field(default=30.0, description="First retry delay; doubles.")
    webhook_backoff_max_seconds: float = Field(default=3600.0, description="Longest delay between retries.")
    webhook_poll_seconds: float = Field(default=1.0, description="Delivery poll interval.")
    prompt_model: str | None = Field(
        default=None, description="Local transformers causal LM for prompt tools; templates if unset."
    )
    log_format: str = Field(default="json", description="json | text")
    log_level: str = Field(default="INFO", description="DEBUG | INFO | WARNING | ERROR")
    log_sensitive: bool = Field(
        default=False, description="Debug only: also log prompts (never keys or Authorization)."
    )
    metrics_port: int | None = Field(default=None, description="`sfumato worker`: /metrics port.")

    # Scheduling, wake-ups and dynamic batching (store/queue.py, worker/).
    max_queued_per_account: int = Field(
        default=1000, description="Queued jobs an account may have before submissions get 429."
    )
    batch_size: int = Field(default=8, description="Most jobs one worker runs as one pipeline call.")
    batch_wait_ms: float = Field(
        default=0.0, description="How long a worker waits for a batch to fill before running it."
    )
    worker_models: list[str] = Field(
        default_factory=list, description="JSON list: model keys this worker runs; empty means any."
    )
    model_memory_mb: int = Field(
        default=0, description="Memory budget of a worker's loaded pipelines in MiB; 0 means none."
    )
    listen: bool = Field(
        default=True,
        description=(
            "Hear other processes' commits (queued jobs, ended realtime requests): LISTEN/NOTIFY "
            "on PostgreSQL, a socket beside the database file on SQLite."
        ),
    )
    fleet_cache_seconds: float = Field(
        default=2.0, description="How long an API node trusts its read of which models live workers run."
    )
    shutdown_grace_seconds: float = Field(
        default=20.0, description="After SIGTERM, how long in-flight jobs may run before being handed back."
    )

    # The OpenAI-compatible surface (api/openai/).
    openai_models: dict[str, str] = Field(
        default_factory=lambda: {
            "dall-e-2": "sd15",
            "dall-e-3": "sdxl",
            "gpt-image-1": "sdxl",
            "gpt-image-1-mini": "sd-turbo",
        },
        description="JSON object: OpenAI model name -> catalog key (sfumato's own keys work as well).",
    )
    openai_video_models: dict[str, str] = Field(
        default_factory=lambda: {"sora-2": "ltx-video", "sora-2-pro": "wan2.2-ti2v-5b"},
        description="JSON object: OpenAI video model name -> catalog key of a video model (/v1/videos).",
    )
    openai_timeout_seconds: float = Field(
        default=300.0,
        description="How long an /v1/images request waits for its pictures before a 504 (refunded).",
    )

    # Realtime canvas and variations (service/realtime.py, service/variations.py).
    realtime_model: str = Field(
        default="lcm-sd15",
        description="Catalog key of the realtime canvas model: an LCM or SDXL-Lightning model.",
    )
    realtime_timeout_seconds: float = Field(
        default=30.0, description="How long a realtime request waits for a worker before it gets 504."
    )
    realtime_warm: bool = Field(default=True, description="Workers load the realtime model when they start.")
    upscaler: str = Field(
        default="realesrgan-x4plus", description="Upscaler: a catalog key (family esrgan) or a weights file."
    )
    segmenter: str = Field(
        default="mask2former-coco", description="Segmenter: a catalog key (family segmenter) or a directory."
    )
    svd_model: str = Field(
        default="svd-xt", description="Catalog key of the model /generations-motion-svd runs (family svd)."
    )

    # 3D model assets and texture generation (service/model_assets.py, service/textures.py).
    model_asset_max_bytes: int = Field(
        default=50 * 1024 * 1024, description="Largest mesh file (OBJ, GLB, glTF) one upload may hold."
    )
    model_asset_max_faces: int = Field(
        default=200_000, ge=1, description="Most triangles a mesh may have to be textured (more: 400)."
    )
    model_asset_max_vertices: int = Field(
        default=200_000, ge=1, description="Most vertices a mesh may have to be textured (more: 400)."
    )
    texture_model: str = Field(
        default="sd15-depth-controlnet",
        description="Catalog key of the model painting /generations-texture views (family depth-controlnet).",
    )
    texture_size: int = Field(
        default=1024, ge=16, le=4096, description="Texels per side of a generated texture's maps."
    )
    texture_view_size: int = Field(
        default=512,
        ge=16,
        le=2048,
        multiple_of=8,
        description="Pixels per side of each view of the mesh the model paints (a multiple of 8).",
    )

    # Content policy (service/policy.py, worker/screening.py).
    policy_file: Path | None = Field(
        default=None, description="Prompt rules (TOML); default $SFUMATO_HOME/policy.toml (absent: none)."
    )
    safety_model: str = Field(
        default="nsfw-vit", description="Output safety classifier: a catalog key (family safety); empty: off."
    )
    safety_threshold: float = Field(
        default=0.5, ge=0.0, le=1.0, description="An output is flagged when its unsafe score exceeds this."
    )
    safety_keep_originals: bool = Field(
        default=False, description="Mode blur: also keep the unblurred original (never served)."
    )
    safety_check_uploads: bool = Field(
        default=False, description="Classify uploaded pictures a request uses; refuse flagged ones."
    )

    @property
    def resolved_policy_file(self) -> Path:
        return self.policy_file or self.resolved_home / "policy.toml"

    # Training (datasets, custom models, elements).
    dataset_max_images: int = Field(default=50, description="Most pictures one dataset holds.")
    training_max_steps: int = Field(
        default=2000, description="Most optimizer steps one training runs, whatever its settings ask."
    )
    elements_file: Path | None = Field(
        default=None, description="Platform elements (LoRA files) TOML; default $SFUMATO_HOME/elements.toml."
    )
    training_base_models: dict[str, str] = Field(
        default_factory=dict,
        description='JSON object: Leonardo sd_version -> catalog key to train on, e.g. {"v1_5": "sd15"}.',
    )
    training_checkpoint_steps: int = Field(default=50, description="A training checkpoints every N steps.")
    training_suite: list[str] = Field(
        default_factory=lambda: ["{instance}", "{instance}, a watercolour painting", "{instance} at night"],
        description="JSON list: the prompt suite rendered when a training ends ({instance}: its prompt).",
    )

    @cached_property
    def resolved_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home.resolve()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_home / 'sfumato.db'}"

    @property
    def resolved_blob_dir(self) -> Path:
        return (self.blob_dir or self.resolved_home / "blobs").resolve()

    @property
    def resolved_compile_dir(self) -> Path:
        return self.resolved_home / "compile-cache"

    @property
    def resolved_models_dir(self) -> Path:
        return (self.models_dir or self.resolved_home / "models").resolve()

    @property
    def resolved_public_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def resolved_secret_key(self) -> bytes:
        """The signing key: from settings, else generated once and kept (0600) in the home."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.resolved_home / "secret.key"
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        for _ in range(50):  # another process may be writing it right now
            key = path.read_text().strip()
            if key:
                return key.encode()
            time.sleep(0.02)
        raise RuntimeError(f"{path} is empty; delete it to regenerate the signing key")
