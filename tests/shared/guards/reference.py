"""A pure-Python model of `guard.lua` and `guard_settle.lua`, the oracle of the property tests.

It keeps one theoretical arrival time (TAT, integer microseconds) per key, exactly as the script
does, and returns the same replies, so hypothesis can compare decisions trace by trace. An
expired key and a TAT in the past mean the same thing (a full bucket), so TTLs are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.guards.policies import Charge, checked_cost


@dataclass
class ReferenceGcra:
    tat_us: dict[str, int] = field(default_factory=dict)
    reservations: dict[str, list[int]] = field(default_factory=dict)

    def check(
        self, charges: list[Charge], now_us: int, reservation_key: str | None = None
    ) -> list[int]:
        """The reply guard.lua gives for these charges at `now_us` (no session check)."""
        rows = []
        allowed = True
        for c in charges:
            t, limit, cost = c.policy.emission_us, c.policy.limit, checked_cost(c.cost)
            tat = max(self.tat_us.get(c.key, now_us), now_us)
            new_tat = tat + cost * t
            retry = 0
            if cost > limit:
                retry = -1
            elif new_tat - now_us > limit * t:
                retry = new_tat - now_us - limit * t
            if retry != 0 and c.policy.mode != "shadow":
                allowed = False
            rows.append((c, tat, new_tat, retry))
        out = [int(allowed), -1]
        charged = []
        for c, old_tat, new_tat, retry in rows:
            t, limit = c.policy.emission_us, c.policy.limit
            spent, tat = 0, old_tat
            if allowed and retry == 0 and new_tat > old_tat:
                spent, tat = (new_tat - old_tat) // t, new_tat
                self.tat_us[c.key] = tat
            charged.append(spent)
            remaining = max(0, (limit * t - (tat - now_us)) // t)
            out += [int(retry == 0), remaining, tat - now_us, retry]
        if allowed and reservation_key is not None:
            self.reservations[reservation_key] = charged
        return out

    def settle(
        self, charges: list[Charge], reservation_key: str, actual: int, now_us: int
    ) -> list[int] | None:
        """What guard_settle.lua does: apply actual - reserved per policy, once."""
        reserved = self.reservations.pop(reservation_key, None)
        if reserved is None:
            return None
        diffs = []
        for c, spent in zip(charges, reserved, strict=True):
            diff = checked_cost(actual) - spent if spent > 0 else 0
            if diff:
                tat = max(self.tat_us.get(c.key, now_us), now_us) + diff * c.policy.emission_us
                self.tat_us[c.key] = max(tat, now_us)
            diffs.append(diff)
        return diffs
