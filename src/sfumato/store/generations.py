"""Generations and their images."""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from sfumato.store.models import GeneratedImage, Generation, Job


def get_generation(
    session: Session, generation_id: str, *, account_id: str | None = None
) -> Generation | None:
    generation = session.get(Generation, generation_id)
    if generation is None or (account_id is not None and generation.account_id != account_id):
        return None
    return generation


def list_generations(session: Session, *, account_id: str, offset: int, limit: int) -> list[Generation]:
    return list(
        session.scalars(
            select(Generation)
            .where(Generation.account_id == account_id)
            .order_by(Generation.created_at.desc(), Generation.id.desc())
            .offset(offset)
            .limit(limit)
        )
    )


def list_videos(
    session: Session, *, account_id: str, after: Generation | None, limit: int, newest_first: bool
) -> list[Generation]:
    """The account's clips (generations with a motion model) past ``after``, by age then id."""
    query = select(Generation).where(
        Generation.account_id == account_id, Generation.motion_model.is_not(None)
    )
    if after is not None:
        if newest_first:
            query = query.where(
                or_(
                    Generation.created_at < after.created_at,
                    and_(Generation.created_at == after.created_at, Generation.id < after.id),
                )
            )
        else:
            query = query.where(
                or_(
                    Generation.created_at > after.created_at,
                    and_(Generation.created_at == after.created_at, Generation.id > after.id),
                )
            )
    if newest_first:
        query = query.order_by(Generation.created_at.desc(), Generation.id.desc())
    else:
        query = query.order_by(Generation.created_at, Generation.id)
    return list(session.scalars(query.limit(limit)))


def get_image(session: Session, image_id: str) -> GeneratedImage | None:
    return session.get(GeneratedImage, image_id)


def job_of(session: Session, generation_id: str) -> Job | None:
    """The generation's job (its newest, should there be more): the exact inputs it ran with."""
    query = select(Job).where(Job.generation_id == generation_id).order_by(Job.created_at.desc()).limit(1)
    return session.scalars(query).first()
