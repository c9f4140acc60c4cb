"""The model catalog: which models exist, where their weights live, whether they are ready.

The API server imports this module to validate requests, so it must stay light: only the
standard library, no torch and no diffusers. Everything is built from TOML data — the
catalog shipped in the package, then an optional user file, then alias overrides from the
settings — so adding or re-pointing a model is a configuration change, not a code change.
"""

from __future__ import annotations

import tomllib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from sfumato.engine.errors import EngineError
from sfumato.engine.families import DISTILLED_UNET_FAMILIES, TRANSFORMER_FAMILIES
from sfumato.engine.tiny import TINY_FAMILIES

# Families of image-generation models (diffusers pipelines): what /platformModels lists.
GENERATION_FAMILIES = ("sd15", "sdxl", "sd-turbo", "lcm", *DISTILLED_UNET_FAMILIES, *TRANSFORMER_FAMILIES)
# Models that work on a picture that exists: super-resolution networks (ESRGAN-class state
# dicts, loaded with spandrel) and panoptic segmenters (transformers Mask2Former directories).
UPSCALER_FAMILY = "esrgan"
SEGMENTER_FAMILY = "segmenter"
# Families of video models (diffusers pipelines): LTX-Video and Wan draw from text or from a
# picture; Stable Video Diffusion animates a picture.
VIDEO_FAMILIES = ("ltx-video", "wan", "svd")
# Leonardo's motion model names: aliases like the model UUIDs, mapped to catalog keys.
MOTION_MODELS = ("MOTION2", "MOTION2FAST", "VEO3", "VEO3FAST", "KLING2_1", "KLING2_5")
# Per video family: frames per latent frame (counts are step·k + 1, or any count for SVD) and
# pixels per latent side with the denoiser's patches (sizes are multiples of it).
FRAME_STEP = {"ltx-video": 8, "wan": 4, "svd": 1}
SIZE_STEP = {"ltx-video": 32, "wan": 16, "svd": 8}
# Output safety classifiers: transformers image-classification directories whose labels say
# which pictures are unsafe (``engine/safety.py``); SFUMATO_SAFETY_MODEL names one.
SAFETY_FAMILY = "safety"
# Texturing models: an SD 1.5 pipeline with a depth ControlNet (a StableDiffusionControlNetPipeline
# directory) that paints views of a mesh from their depth (``engine/texturing.py``).
TEXTURE_FAMILY = "depth-controlnet"
FAMILIES = (
    *GENERATION_FAMILIES,
    *VIDEO_FAMILIES,
    UPSCALER_FAMILY,
    SEGMENTER_FAMILY,
    SAFETY_FAMILY,
    TEXTURE_FAMILY,
)
TINY_PREFIX = "tiny:"
SourceKind = Literal["tiny", "local", "hub", "url"]
# The file whose presence says a fetched model is complete (a pull writes it last).
_READY_MARKER = {SEGMENTER_FAMILY: "config.json", SAFETY_FAMILY: "config.json"}
_DIFFUSERS_MARKER = "model_index.json"
VAE_MARKER = "config.json"  # an AutoencoderKL directory's config, fetched last
_PICTURE_DEFAULTS: dict[str, Any] = {
    "sd_version": "",
    "default_steps": 0,
    "default_guidance": 0.0,
    "default_width": 0,
    "default_height": 0,
    "max_steps": 0,
}
_VIDEO_DEFAULTS: dict[str, dict[str, Any]] = {
    "ltx-video": {
        "default_steps": 40,
        "default_guidance": 3.0,
        "default_width": 768,
        "default_height": 512,
        "max_steps": 60,
        "fps": 24,
        "max_frames": 257,
        "text_to_video": True,
        "image_to_video": True,
    },
    "wan": {
        "default_steps": 40,
        "default_guidance": 5.0,
        "default_width": 832,
        "default_height": 480,
        "max_steps": 60,
        "fps": 16,
        "max_frames": 81,
        "text_to_video": True,
        "image_to_video": False,
    },
    "svd": {
        "default_steps": 25,
        "default_guidance": 3.0,
        "default_width": 1024,
        "default_height": 576,
        "max_steps": 60,
        "fps": 7,
        "max_frames": 25,
        "default_frames": 25,
        "text_to_video": False,
        "image_to_video": True,
    },
}

# Values a user catalog may leave out when it adds a model, per family: the same
# defaults the upstream model cards recommend.
_FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    "sd15": {
        "sd_version": "v1_5",
        "default_steps": 30,
        "default_guidance": 7.0,
        "default_width": 512,
        "default_height": 512,
        "max_steps": 60,
    },
    "sdxl": {
        "sd_version": "SDXL_1_0",
        "default_steps": 30,
        "default_guidance": 7.0,
        "default_width": 1024,
        "default_height": 1024,
        "max_steps": 60,
    },
    "sd-turbo": {
        "sd_version": "v2",
        "default_steps": 1,
        "default_guidance": 0.0,
        "default_width": 512,
        "default_height": 512,
        "max_steps": 10,
    },
    # Latent consistency (LCM) distilled SD 1.5: the realtime canvas's model family.
    "lcm": {
        "sd_version": "v1_5",
        "default_steps": 4,
        "default_guidance": 8.0,
        "default_width": 512,
        "default_height": 512,
        "max_steps": 16,
    },
    # SDXL distilled to 2-8 steps over trailing timesteps (the draft mode's model).
    "sdxl-lightning": {
        "sd_version": "SDXL_LIGHTNING",
        "default_steps": 4,
        "default_guidance": 0.0,
        "default_width": 1024,
        "default_height": 1024,
        "max_steps": 8,
        "scheduler_config": {"timestep_spacing": "trailing"},
    },
    # Today's transformer families (see families.py for what each takes). Defaults are the
    # model cards'; FLUX and Qwen-Image weigh 12-20 B parameters, so bf16 and offloading.
    "flux-schnell": {
        "sd_version": "FLUX",
        "default_steps": 4,
        "default_guidance": 0.0,
        "default_width": 1024,
        "default_height": 1024,
        "max_steps": 8,
        "dtype": "bfloat16",
        "offload": "model",
    },
    "flux-dev": {
        "sd_version": "FLUX_DEV",
        "default_steps": 28,
        "default_guidance": 3.5,
        "default_width": 1024,
        "default_height": 1024,
        "max_steps": 50,
        "dtype": "bfloat16",
        "offload": "model",
    },
    "flux-kontext": {
        "sd_version": "FLUX_DEV",
        "default_steps": 28,
        "default_guidance": 2.5,
        "default_width": 1024,
        "default_height": 1024,
        "max_steps": 50,
        "dtype": "bfloat16",
        "offload": "model",
    },
    "sd3": {
        "sd_version": "v3",
        "default_steps": 28,
        "default_guidance": 4.5,
        "default_width": 1024,
        "default_height": 1024,
        "max_steps": 60,
        "dtype": "bfloat16",
    },
    # Leonardo has no SdVersions value for Qwen-Image: the API leaves sdVersion out.
    "qwen-image": {
        "sd_version": "",
        "default_steps": 30,
        "default_guidance": 4.0,
        "default_width": 1328,
        "default_height": 1328,
        "max_steps": 60,
        "dtype": "bfloat16",
        "offload": "model",
    },
    **{family: {**_PICTURE_DEFAULTS, **values} for family, values in _VIDEO_DEFAULTS.items()},
    TEXTURE_FAMILY: {
        "sd_version": "v1_5",
        "default_steps": 20,
        "default_guidance": 7.0,
        "default_width": 512,
        "default_height": 512,
        "max_steps": 60,
    },
    UPSCALER_FAMILY: _PICTURE_DEFAULTS,
    SEGMENTER_FAMILY: _PICTURE_DEFAULTS,
    SAFETY_FAMILY: _PICTURE_DEFAULTS,
}
# How a model is held in memory: its dtype on a GPU ("auto": float16; a CPU always runs
# float32), whether diffusers offloads idle components to the CPU ("model": one component
# on the GPU at a time; "sequential": one layer at a time, slowest and smallest) and whether
# weights are quantised on load (through bitsandbytes or torchao, when installed).
DTYPES = ("auto", "float16", "bfloat16", "float32")
OFFLOADS = ("none", "model", "sequential")
QUANTIZATIONS = ("none", "bnb-nf4", "bnb-int8", "torchao-fp8")
_COMMON_DEFAULTS: dict[str, Any] = {
    "description": "",
    "featured": False,
    "nsfw": False,
    "inpainting": False,
    "dtype": "auto",
    "offload": "none",
    "quantization": "none",
    "scheduler_config": {},
    "fps": 0,
    "max_frames": 0,
    "default_frames": 0,
    "text_to_video": False,
    "image_to_video": False,
    "end_frame": False,
    "size_step": 0,
    "vae": "",
}
_REQUIRED = ("id", "name", "family", "source")
_TYPES: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "name": str,
    "description": str,
    "family": str,
    "source": str,
    "sd_version": str,
    "default_steps": int,
    "default_guidance": (int, float),
    "default_width": int,
    "default_height": int,
    "max_steps": int,
    "featured": bool,
    "nsfw": bool,
    "inpainting": bool,
    "dtype": str,
    "offload": str,
    "quantization": str,
    "scheduler_config": dict,
    "fps": int,
    "max_frames": int,
    "default_frames": int,
    "text_to_video": bool,
    "image_to_video": bool,
    "end_frame": bool,
    "size_step": int,
    "vae": str,
}
_CHOICES = {"dtype": DTYPES, "offload": OFFLOADS, "quantization": QUANTIZATIONS}


@dataclass(frozen=True)
class ModelEntry:
    """One platform model as the catalog describes it; plain data, safe to share."""

    id: str
    key: str
    name: str
    description: str
    family: str
    source: str
    sd_version: str
    default_steps: int
    default_guidance: float
    default_width: int
    default_height: int
    max_steps: int
    featured: bool
    nsfw: bool
    # A dedicated inpainting checkpoint (its UNet also takes the mask and the masked picture):
    # it runs canvas INPAINT/OUTPAINT only.
    inpainting: bool = False
    # Memory choices (see DTYPES, OFFLOADS, QUANTIZATIONS) and overrides of the model's own
    # scheduler config (SDXL-Lightning's trailing timesteps), as sorted (name, value) pairs.
    dtype: str = "auto"
    offload: str = "none"
    quantization: str = "none"
    scheduler_config: tuple[tuple[str, Any], ...] = ()
    # Video models: the frame rate they are trained at, the most frames one clip may have, the
    # frames of a clip whose length the request does not say (SVD), what they can start from,
    # and whether they can also be held to a last frame (LTX-Video's condition pipeline).
    fps: int = 0
    max_frames: int = 0
    default_frames: int = 0
    text_to_video: bool = False
    image_to_video: bool = False
    end_frame: bool = False
    # Pixels per latent side with the denoiser's patches, when it is not the family's
    # (SIZE_STEP): Wan 2.2's 5B VAE compresses 16×, so its sizes are multiples of 32.
    size_step: int = 0
    # An AutoencoderKL loaded in place of the pipeline's own VAE: a hub repository (fetched by
    # `sfumato models pull` beside the weights) or a local diffusers directory; empty: the
    # model's own. SDXL's own VAE overflows in float16, so a GPU decodes with it in float32;
    # "madebyollin/sdxl-vae-fp16-fix" is the same VAE made safe in float16.
    vae: str = ""

    @property
    def is_tiny(self) -> bool:
        """Tiny models are built offline from configs (their ``vae``, if any, is not)."""
        return self.source.startswith(TINY_PREFIX)

    @property
    def always_ready(self) -> bool:
        """Whether every machine can run it with nothing on disk: a tiny model that keeps the
        VAE it is built with (one whose entry names a ``vae`` needs that VAE present)."""
        return self.is_tiny and not self.vae

    @property
    def vae_kind(self) -> Literal["", "local", "hub"]:
        """Where the ``vae`` comes from: "" (the model's own), a local directory or the hub."""
        if not self.vae:
            return ""
        return "local" if _looks_local(self.vae) else "hub"

    @property
    def tiny_family(self) -> str:
        """The family a tiny source names (``tiny:sdxl`` → ``sdxl``); empty for others."""
        return self.source[len(TINY_PREFIX) :] if self.is_tiny else ""

    @property
    def source_kind(self) -> SourceKind:
        """Where the weights come from, which decides how they are found and fetched."""
        if self.is_tiny:
            return "tiny"
        if self.source.startswith(("https://", "http://")):
            return "url"
        if _looks_local(self.source):
            return "local"
        return "hub"

    @property
    def generates_images(self) -> bool:
        """A text/image-to-image model (a diffusers pipeline), as opposed to an upscaler or a
        segmenter that only works on a picture that exists."""
        return self.family in GENERATION_FAMILIES

    @property
    def generates_video(self) -> bool:
        """A text- or image-to-video model (a diffusers pipeline)."""
        return self.family in VIDEO_FAMILIES

    @property
    def video_size_step(self) -> int:
        """What a video's width and height must be multiples of."""
        return self.size_step or SIZE_STEP.get(self.family, 8)

    @property
    def is_pipeline(self) -> bool:
        """A diffusers pipeline with a scheduler: every image or video generation model, and
        the texturing models."""
        return self.generates_images or self.generates_video or self.family == TEXTURE_FAMILY


class Catalog:
    """The models this server offers, and Leonardo's model ids that map onto them."""

    def __init__(self, entries: list[ModelEntry], aliases: Mapping[str, str]) -> None:
        """Prefer :meth:`load`; this constructor trusts its input to be validated."""
        self._entries = list(entries)
        self._by_key = {e.key: e for e in entries}
        self._by_id = {e.id.lower(): e for e in entries}
        self._aliases = {k.lower(): v for k, v in aliases.items()}

    @classmethod
    def load(
        cls,
        extra: Path | None = None,
        aliases: dict[str, str] | None = None,
        paths: Mapping[str, str] | None = None,
    ) -> Catalog:
        """Read the packaged catalog, then ``extra`` (if that file exists), then ``aliases``.

        A missing ``extra`` file is not an error, so callers can always pass the default
        ``$SFUMATO_HOME/catalog.toml``. Any malformed entry raises :class:`EngineError`
        naming the file and the model, because a half-read catalog would fail later and
        further from the cause.

        ``paths`` maps a family to a setting's value (SFUMATO_UPSCALER, SFUMATO_SEGMENTER):
        one that is not a model key names weights on disk and becomes a model of that family
        whose key is the value itself, so jobs and workers name it as they always did.
        """
        packaged = resources.files("sfumato.engine").joinpath("catalog.toml").read_text("utf-8")
        models: dict[str, dict[str, Any]] = {}
        alias_map: dict[str, str] = {}
        _merge(models, alias_map, _parse(packaged, "the packaged catalog"), base=None)
        if extra is not None and extra.is_file():
            raw = _parse(extra.read_text("utf-8"), str(extra))
            _merge(models, alias_map, raw, base=extra.parent)
        for alias, key in (aliases or {}).items():
            alias_map[_alias_name(alias)] = key
        for family, value in (paths or {}).items():
            if value and value not in models:
                models[value] = _path_model(value, family)
        entries = [_build_entry(key, fields) for key, fields in models.items()]
        _check_unique(entries, alias_map)
        return cls(entries, alias_map)

    def entries(self) -> list[ModelEntry]:
        """All models, in catalog order (packaged first, then the user's)."""
        return list(self._entries)

    def aliases(self) -> dict[str, str]:
        """Leonardo model id → local model key, lower-case ids."""
        return dict(self._aliases)

    def resolve(self, model_id: str) -> ModelEntry | None:
        """Find a model by its key, its own UUID, or an alias UUID (ids case-insensitive)."""
        wanted = model_id.strip()
        if wanted in self._by_key:
            return self._by_key[wanted]
        lowered = wanted.lower()
        if lowered in self._by_id:
            return self._by_id[lowered]
        key = self._aliases.get(lowered)
        return self._by_key.get(key) if key is not None else None

    def require(self, name: str, family: str) -> ModelEntry:
        """The model ``name`` (key or id), which must be of ``family``: how the engine finds
        the upscaler or segmenter a job names."""
        entry = self.resolve(name)
        if entry is None:
            raise EngineError(f"unknown model {name!r}: it is not in the catalog")
        if entry.family != family:
            raise EngineError(f"model {entry.key} is of family {entry.family}, not {family}")
        return entry

    def weights_dir(self, entry: ModelEntry, models_dir: Path) -> Path:
        """Where the weights live: ``models_dir/<key>`` when sfumato owns them, else the source."""
        return weights_dir(entry, models_dir)

    def is_ready(self, entry: ModelEntry, models_dir: Path) -> bool:
        """Whether a job for ``entry`` can run without a network (checked at submission)."""
        return is_ready(entry, models_dir)

    def how_to_obtain(self, entry: ModelEntry) -> str:
        """One line telling a person how to make ``entry`` ready; shown in the 400 error."""
        if entry.source_kind == "tiny":
            line = f"{entry.key} is built automatically on first use"
            if not entry.vae:
                return f"{line}; nothing to download"
        elif entry.source_kind == "local":
            line = (
                f"put the weights of {entry.key} at {entry.source}, or change its source "
                "in $SFUMATO_HOME/catalog.toml"
            )
        else:
            where = "a local weights file" if entry.family == UPSCALER_FAMILY else "a local directory"
            fetched = f"{entry.source} and its VAE {entry.vae}" if entry.vae_kind == "hub" else entry.source
            return (
                f"run `sfumato models pull {entry.key}` on a machine with network access (it fetches "
                f"{fetched}), or set its source to {where} in $SFUMATO_HOME/catalog.toml"
                + _vae_instructions(entry, pulled=True)
            )
        return line + _vae_instructions(entry, pulled=False)


def _vae_instructions(entry: ModelEntry, *, pulled: bool) -> str:
    """The part of :meth:`Catalog.how_to_obtain` about the entry's own VAE (empty when it has none,
    or when the pull instructions already fetch it)."""
    if entry.vae_kind == "local":
        return (
            f"; put its VAE (a diffusers AutoencoderKL directory) at {entry.vae}, or change "
            "its vae in $SFUMATO_HOME/catalog.toml"
        )
    if entry.vae_kind == "hub" and not pulled:
        return (
            f"; run `sfumato models pull {entry.key}` on a machine with network access to "
            f"fetch its VAE {entry.vae}"
        )
    return ""


def weights_dir(entry: ModelEntry, models_dir: Path) -> Path:
    """:meth:`Catalog.weights_dir` for code that holds an entry but no catalog."""
    if entry.source_kind == "local":
        return Path(entry.source).expanduser()
    return models_dir / entry.key


def vae_dir(entry: ModelEntry, models_dir: Path) -> Path | None:
    """Where the entry's ``vae`` lives (None: it has none): the local directory, or for a hub
    repository ``models_dir/vae--<owner>--<name>``, one copy for every model that names it."""
    if entry.vae_kind == "local":
        return Path(entry.vae).expanduser()
    if entry.vae_kind == "hub":
        return models_dir / ("vae--" + entry.vae.strip("/").replace("/", "--"))
    return None


def weights_path(entry: ModelEntry, models_dir: Path) -> Path:
    """What a loader opens: the weights directory, or for an upscaler its one weights file
    (``<models_dir>/realesrgan-x4plus/RealESRGAN_x4plus.pth`` for a URL source)."""
    path = weights_dir(entry, models_dir)
    if entry.family != UPSCALER_FAMILY or entry.source_kind == "local":
        return path
    if entry.source_kind == "tiny":
        return path / f"{entry.key}.safetensors"
    return path / entry.source.rstrip("/").rsplit("/", 1)[-1]


def ready_marker(entry: ModelEntry) -> str:
    """The file in a fetched weights directory that says it is complete (written last)."""
    return _READY_MARKER.get(entry.family, _DIFFUSERS_MARKER)


def is_ready(entry: ModelEntry, models_dir: Path) -> bool:
    """:meth:`Catalog.is_ready` for code that holds an entry but no catalog.

    Tiny models count as ready because they are built offline on first use. A fetched
    model counts once its marker file (``model_index.json`` for a pipeline, ``config.json``
    for a segmenter, the weights file itself for an upscaler) exists: a fetch writes it last.
    An entry with a ``vae`` also needs that VAE's ``config.json`` (which a pull writes last).
    """
    vae = vae_dir(entry, models_dir)
    if vae is not None and not (vae / VAE_MARKER).is_file():
        return False
    if entry.source_kind == "tiny":
        return True
    path = weights_path(entry, models_dir)
    if entry.source_kind == "local":
        return path.exists()
    if entry.family == UPSCALER_FAMILY:
        return path.is_file()
    return (path / ready_marker(entry)).is_file()


def _path_model(value: str, family: str) -> dict[str, Any]:
    """A catalog table for weights a setting names by path (key: the path as given)."""
    path = Path(value).expanduser()
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sfumato:{family}:{value}")),
        "name": f"{family} weights at {path}",
        "description": f"The {family} model whose weights the settings name by path.",
        "family": family,
        "source": str(path.resolve()) if not path.is_absolute() else str(path),
    }


def _looks_local(source: str) -> bool:
    """A path, not a hub repo id: absolute, home- or dot-relative, or a checkpoint file."""
    return (
        source.startswith(("/", "~", "./", "../"))
        or Path(source).is_absolute()
        or source.endswith((".safetensors", ".ckpt", ".pth", ".pt"))
    )


def _parse(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise EngineError(f"cannot read {origin}: {exc}") from exc


def _merge(
    models: dict[str, dict[str, Any]],
    alias_map: dict[str, str],
    raw: dict[str, Any],
    base: Path | None,
) -> None:
    """Fold one catalog file into the running state; later files change earlier entries."""
    unknown = set(raw) - {"models", "aliases", "motion_aliases"}
    if unknown:
        raise EngineError(f"unknown catalog tables: {', '.join(sorted(unknown))}")
    for key, fields in raw.get("models", {}).items():
        if not isinstance(fields, dict):
            raise EngineError(f"catalog model {key!r} must be a table")
        fields = dict(fields)
        for name in ("source", "vae"):
            value = fields.get(name)
            if base is not None and isinstance(value, str) and value.startswith(("./", "../")):
                fields[name] = str((base / value).resolve())
        models.setdefault(key, {}).update(fields)
    for alias, key in {**raw.get("aliases", {}), **raw.get("motion_aliases", {})}.items():
        if not isinstance(key, str):
            raise EngineError(f"catalog alias {alias!r} must map to a model key")
        alias_map[_alias_name(alias)] = key


def _alias_name(alias: str) -> str:
    """A Leonardo model UUID (normalised) or one of its motion model names (upper-case)."""
    if isinstance(alias, str) and alias.strip().upper() in MOTION_MODELS:
        return alias.strip().upper()
    return _normalise_uuid(alias, "alias")


def _normalise_uuid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError) as exc:
        raise EngineError(f"catalog {what} {value!r} is not a UUID") from exc


def _build_entry(key: str, fields: dict[str, Any]) -> ModelEntry:
    missing = [name for name in _REQUIRED if name not in fields]
    if missing:
        raise EngineError(f"catalog model {key!r} lacks {', '.join(missing)}")
    family = fields["family"]
    if family not in FAMILIES:
        raise EngineError(f"catalog model {key!r} has family {family!r}; known: {', '.join(FAMILIES)}")
    merged = {**_COMMON_DEFAULTS, **_FAMILY_DEFAULTS[family], **fields}
    unknown = set(merged) - set(_TYPES)
    if unknown:
        raise EngineError(f"catalog model {key!r} has unknown fields: {', '.join(sorted(unknown))}")
    for name, expected in _TYPES.items():
        value = merged[name]
        # bool is an int in Python; a count given as true/false is a typo, not a number.
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise EngineError(f"catalog model {key!r}: {name} has the wrong type")
    for name, choices in _CHOICES.items():
        if merged[name] not in choices:
            raise EngineError(f"catalog model {key!r}: {name} must be one of {', '.join(choices)}")
    source = merged["source"]
    if source.startswith(TINY_PREFIX) and source[len(TINY_PREFIX) :] not in TINY_FAMILIES:
        raise EngineError(f"catalog model {key!r}: unknown tiny family in {source!r}")
    if family == UPSCALER_FAMILY and not (
        source.startswith((TINY_PREFIX, "https://", "http://")) or _looks_local(source)
    ):
        raise EngineError(f"catalog model {key!r}: an {family} source is a URL, a weights file or tiny:")
    _check_vae(key, family, merged["vae"])
    return ModelEntry(
        id=_normalise_uuid(merged["id"], f"model {key!r} id"),
        key=key,
        name=merged["name"],
        description=merged["description"],
        family=family,
        source=source,
        sd_version=merged["sd_version"],
        default_steps=merged["default_steps"],
        default_guidance=float(merged["default_guidance"]),
        default_width=merged["default_width"],
        default_height=merged["default_height"],
        max_steps=merged["max_steps"],
        featured=merged["featured"],
        nsfw=merged["nsfw"],
        inpainting=merged["inpainting"],
        dtype=merged["dtype"],
        offload=merged["offload"],
        quantization=merged["quantization"],
        scheduler_config=tuple(sorted(merged["scheduler_config"].items())),
        fps=merged["fps"],
        max_frames=merged["max_frames"],
        default_frames=merged["default_frames"],
        text_to_video=merged["text_to_video"],
        image_to_video=merged["image_to_video"],
        end_frame=merged["end_frame"],
        size_step=merged["size_step"],
        vae=merged["vae"],
    )


def _check_vae(key: str, family: str, vae: str) -> None:
    """A ``vae`` is an AutoencoderKL directory (hub or local) for an image pipeline."""
    if not vae:
        return
    if family not in (*GENERATION_FAMILIES, TEXTURE_FAMILY):
        raise EngineError(f"catalog model {key!r}: a vae is for image-generation models, not {family}")
    if vae.startswith((TINY_PREFIX, "https://", "http://")) or vae.endswith(
        (".safetensors", ".ckpt", ".pth", ".pt")
    ):
        raise EngineError(
            f"catalog model {key!r}: vae {vae!r} must be a Hugging Face repository or a local "
            "diffusers AutoencoderKL directory"
        )


def _check_unique(entries: list[ModelEntry], alias_map: dict[str, str]) -> None:
    """Ids must name one thing each, and every alias must land on a real model."""
    keys = {e.key for e in entries}
    seen: dict[str, str] = {}
    for entry in entries:
        if entry.id in seen:
            raise EngineError(f"catalog models {seen[entry.id]!r} and {entry.key!r} share id")
        seen[entry.id] = entry.key
    for alias, key in alias_map.items():
        if key == "" and alias in MOTION_MODELS:
            continue  # a motion model name this server does not offer
        if key not in keys:
            raise EngineError(f"catalog alias {alias} points to unknown model {key!r}")
        if alias in seen:
            raise EngineError(f"catalog alias {alias} is also the id of model {seen[alias]!r}")
