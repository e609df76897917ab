"""Which trajectory does an activity belong to?

Members register activities with the woman's BSN and, where they know it, the trajectory id. An activity
without an id belongs to her trajectory that was running on that date. Activities that fit no trajectory are
reported, never dropped (DOMAIN.md §3, activity outside any trajectory).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from integraal.domain.activity import Activity
from integraal.domain.pregnancy import Pregnancy
from integraal.rules.decision import ActivityOutcome, Disposition
from integraal.rules.reasons import ReasonCode


class TrajectoryIndex:
    """Pregnancies by id and by BSN, for matching activities to trajectories."""

    __slots__ = ("_by_bsn", "_by_id", "_trailing")

    def __init__(self, pregnancies: Iterable[Pregnancy], trailing_days: int) -> None:
        self._by_id = {p.pregnancy_id: p for p in pregnancies}
        by_bsn: dict[str, list[Pregnancy]] = {}
        for p in self._by_id.values():
            by_bsn.setdefault(p.bsn, []).append(p)
        # Latest intake first: when trajectories touch, the newer one wins.
        self._by_bsn = {
            bsn: sorted(ps, key=lambda p: (p.intake_date, p.pregnancy_id), reverse=True) for bsn, ps in by_bsn.items()
        }
        self._trailing = timedelta(days=trailing_days)

    def ids(self) -> list[str]:
        return list(self._by_id)

    @property
    def trailing_days(self) -> int:
        """How long after its end a trajectory still takes activities that name no trajectory."""
        return self._trailing.days

    def get(self, pregnancy_id: str) -> Pregnancy | None:
        return self._by_id.get(pregnancy_id)

    def running_on(self, bsn: str, day: date) -> Pregnancy | None:
        """The trajectory of ``bsn`` from intake up to ``trailing_days`` after its end that covers ``day``."""
        for p in self._by_bsn.get(bsn, ()):
            if p.intake_date <= day and (p.end_date is None or day <= p.end_date + self._trailing):
                return p
        return None


def match_activities(
    index: TrajectoryIndex, activities: Iterable[Activity]
) -> tuple[dict[str, list[Activity]], list[ActivityOutcome]]:
    """Group activities by trajectory; activities that fit none come back as reported outcomes."""
    matched: dict[str, list[Activity]] = {}
    unmatched: list[ActivityOutcome] = []
    for activity in activities:
        if activity.pregnancy_id:
            pregnancy = index.get(activity.pregnancy_id)
            if pregnancy is None:
                unmatched.append(_reported(activity, ReasonCode.NO_TRAJECTORY))
                continue
            if pregnancy.bsn != activity.bsn:
                unmatched.append(_reported(activity, ReasonCode.BSN_MISMATCH))
                continue
        else:
            pregnancy = index.running_on(activity.bsn, activity.day)
            if pregnancy is None:
                unmatched.append(_reported(activity, ReasonCode.NO_TRAJECTORY))
                continue
        matched.setdefault(pregnancy.pregnancy_id, []).append(activity)
    unmatched.sort(key=lambda o: o.activity_id)
    return matched, unmatched


def _reported(activity: Activity, reason: ReasonCode) -> ActivityOutcome:
    return ActivityOutcome(activity.activity_id, Disposition.REPORTED, reason)
