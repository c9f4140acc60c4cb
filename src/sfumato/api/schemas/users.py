"""The caller's account shapes (sfumato's additions under ``/me``)."""

from __future__ import annotations

from typing import Any

from sfumato.api.schemas.common import compact, timestamp
from sfumato.service.accounts import LedgerLine


def ledger_line_object(line: LedgerLine) -> dict[str, Any]:
    """One credit-ledger line, as ``GET /me/credit-ledger`` and ``sfumato credits history --json`` give it."""
    return compact(
        {
            "createdAt": timestamp(line.at),
            "kind": line.kind,
            "amount": line.amount,
            "balanceAfter": line.balance_after,
            "subjectKind": line.subject_kind,
            "subjectId": line.subject_id,
            "note": line.note,
        }
    )
