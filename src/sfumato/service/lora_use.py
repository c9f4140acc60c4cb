"""LoRAs in a generation: a custom model named as ``modelId``, elements in ``userElements`` and
``elements``, each checked (the caller's own, trained, on the generation's base model) and
turned into the job's LoRA references with their weights."""

from __future__ import annotations

from dataclasses import dataclass

from sfumato.errors import InvalidRequest, NotFound
from sfumato.jobs.loras import LoraRef
from sfumato.service import platform_elements
from sfumato.service.context import Context
from sfumato.service.keys import Principal
from sfumato.store import trained_loras as store
from sfumato.store.training_tables import ELEMENT, MODEL, TrainedLora

MAX_ADAPTERS = 8
MIN_WEIGHT, MAX_WEIGHT = -4.0, 4.0


@dataclass(frozen=True)
class AdapterRequest:
    """Elements a generation asks for: the caller's own by ``userLoraId``, by ``akUUID``."""

    user_elements: tuple[tuple[int, float], ...] = ()
    elements: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class PlannedAdapters:
    base_model_key: str | None  # a custom model's base, which the generation runs on
    refs: tuple[LoraRef, ...]
    trained_on: tuple[str, ...]  # each LoRA's base model key


def needs_lookup(ctx: Context, model_id: str | None, adapters: AdapterRequest | None) -> bool:
    """Whether planning reads the database: elements, or a ``modelId`` the catalog does not know."""
    return bool(adapters and (adapters.user_elements or adapters.elements)) or (
        model_id is not None and ctx.catalog.resolve(model_id) is None
    )


def plan(
    ctx: Context, principal: Principal, model_id: str | None, adapters: AdapterRequest | None
) -> PlannedAdapters:
    adapters = adapters or AdapterRequest()
    count = len(adapters.user_elements) + len(adapters.elements)
    if count > MAX_ADAPTERS:
        raise InvalidRequest(f"at most {MAX_ADAPTERS} elements may be applied at once")
    base: str | None = None
    refs: list[LoraRef] = []
    trained_on: list[str] = []
    with ctx.db.read() as session:
        if model_id is not None and ctx.catalog.resolve(model_id) is None:
            row = store.by_uuid(session, model_id, account_id=principal.account_id, purpose=MODEL)
            # Unknown, or another account's: left to the catalog's answer for any unknown modelId.
            if row is not None:
                refs.append(_ref(row, 1.0, "modelId"))
                trained_on.append(row.base_model_key)
                base = row.base_model_key
        for index, (lora_id, weight) in enumerate(adapters.user_elements):
            row = store.by_id(session, lora_id, account_id=principal.account_id, purpose=ELEMENT)
            if row is None:
                raise NotFound(f"userElements[{index}]: no element with userLoraId {lora_id}")
            refs.append(_ref(row, weight, f"userElements[{index}]"))
            trained_on.append(row.base_model_key)
        for index, (uuid, weight) in enumerate(adapters.elements):
            platform = platform_elements.find(ctx, uuid)
            if platform is not None:
                refs.append(_platform_ref(platform, weight, f"elements[{index}]"))
                trained_on.append(platform.base_model)
                continue
            row = store.by_uuid(session, uuid, account_id=principal.account_id, purpose=ELEMENT)
            if row is None:
                raise NotFound(f"elements[{index}]: no element with akUUID {uuid!r}")
            refs.append(_ref(row, weight, f"elements[{index}]"))
            trained_on.append(row.base_model_key)
    return PlannedAdapters(base_model_key=base, refs=tuple(refs), trained_on=tuple(trained_on))


def check_base(planned: PlannedAdapters, model_key: str) -> None:
    """Every LoRA must have been trained on the model the generation runs on."""
    for ref, base in zip(planned.refs, planned.trained_on, strict=True):
        if base != model_key:
            raise InvalidRequest(
                f"{ref.name} was trained on {base}, not on {model_key}; use it with that model"
            )


def _platform_ref(element: platform_elements.PlatformElement, weight: float, field: str) -> LoraRef:
    if not MIN_WEIGHT <= weight <= MAX_WEIGHT:
        raise InvalidRequest(f"{field}: weight must be between {MIN_WEIGHT} and {MAX_WEIGHT}")
    sha256 = platform_elements.file_hash(element)
    return LoraRef(path=str(element.path), sha256=sha256, weight=float(weight), name=element.id)


def _ref(row: TrainedLora, weight: float, field: str) -> LoraRef:
    if row.status != "COMPLETE" or row.weights_key is None or row.weights_sha256 is None:
        raise InvalidRequest(f"{field}: {row.name!r} is {row.status.lower()}, not trained yet")
    if not MIN_WEIGHT <= weight <= MAX_WEIGHT:
        raise InvalidRequest(f"{field}: weight must be between {MIN_WEIGHT} and {MAX_WEIGHT}")
    return LoraRef(blob_key=row.weights_key, sha256=row.weights_sha256, weight=float(weight), name=row.uuid)
