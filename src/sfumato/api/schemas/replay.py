"""``/generations/{id}/replay-report``: sfumato's report on a replay, in the wire's camelCase."""

from __future__ import annotations

from typing import Any

from sfumato.api.schemas.views import camel
from sfumato.service.replay_report import ReplayReport


def replay_report_object(report: ReplayReport) -> dict[str, Any]:
    return {
        "generationId": report.generation_id,
        "replayOf": report.replay_of,
        "status": report.status,
        "identical": report.identical,
        "differences": [
            {"name": camel(d.name), "original": d.original, "replay": d.replay} for d in report.differences
        ],
        "images": [
            {
                "position": image.position,
                "originalSha256": image.original_sha256,
                "replaySha256": image.replay_sha256,
                "identical": image.identical,
                "maxLevelDifference": image.max_level_difference,
            }
            for image in report.images
        ],
    }
