"""How Grafana's alert state manager turns one evaluation's results into instance states and notifications, for the
tests of the crowd rules. A port of the parts that matter, from grafana/grafana:

- pkg/services/ngalert/state/manager.go
  - ``setNextStateForRule``: when every result is NoData (or Error) and the rule's noDataState (execErrState) is
    Alerting, OK or KeepLast, the one result is applied to *every* current instance (``setNextStateForAll``);
    otherwise each result moves the instance of its labels.
  - ``processMissingSeriesStates`` / ``stateIsStale``: an instance whose labels the evaluation did not return is
    stale once ``missingSeriesEvalsToResolve`` (default 2; 1 for an instance in Error or NoData) intervals have
    passed since its last evaluation; it becomes Normal with reason MissingSeries and, if it was firing, is sent as
    RESOLVED. This is how a 商圈 whose row left the query used to send an all-clear.
- pkg/services/ngalert/state/state.go
  - ``resultNormal``, ``resultAlerting`` (Pending until ``for`` has passed), ``resultError`` and ``resultNoData``
    (the rule's execErrState / noDataState: Alerting → resultAlerting, OK → resultNormal, NoData / Error → that
    state, KeepLast → the instance keeps its state, as docs/sources/alerting/fundamentals/alert-rule-evaluation/
    state-and-health.md describes "keep last state").
  - keepFiringFor: a firing instance whose condition clears stays Alerting (Recovering) until keepFiringFor has
    passed; only then is it Normal and resolved.
  - a transition from a firing state (Alerting, Recovering) to Normal sets ``Resolved``: the RESOLVED notification.

Evaluation results come from the condition: a threshold expression is 1 (Alerting) or 0 (Normal) per series, and
a query with no rows is one NoData result with no labels (pkg/services/ngalert/eval/eval.go).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

NORMAL, PENDING, ALERTING, RECOVERING, NODATA, ERROR = "Normal", "Pending", "Alerting", "Recovering", "NoData", "Error"
FIRING = {ALERTING, RECOVERING}
Labels = frozenset[tuple[str, str]]


@dataclass(frozen=True)
class Rule:
    interval: timedelta
    pending: timedelta = timedelta(0)  # ``for``
    keep_firing_for: timedelta = timedelta(0)
    no_data_state: str = "NoData"  # Alerting | NoData | OK | KeepLast
    exec_err_state: str = "Error"  # Alerting | Error | OK | KeepLast
    missing_series_evals_to_resolve: int = 2

    @classmethod
    def from_provisioning(cls, rule: dict, interval: str) -> Rule:
        return cls(
            interval=_duration(interval),
            pending=_duration(rule.get("for", "0s")),
            keep_firing_for=_duration(rule.get("keepFiringFor", "0s")),
            no_data_state=rule.get("noDataState", "NoData"),
            exec_err_state=rule.get("execErrState", "Error"),
            missing_series_evals_to_resolve=int(rule.get("missingSeriesEvalsToResolve", 2)),
        )


@dataclass
class Instance:
    labels: Labels
    state: str = NORMAL
    reason: str = ""
    starts_at: datetime | None = None
    last_evaluated: datetime | None = None


@dataclass(frozen=True)
class Notification:
    at: datetime
    labels: Labels
    status: str  # "firing" | "resolved"
    reason: str


@dataclass
class StateManager:
    rule: Rule
    instances: dict[Labels, Instance] = field(default_factory=dict)
    sent: list[Notification] = field(default_factory=list)

    def process(self, at: datetime, results: list[tuple[Labels, str]]) -> None:
        """One evaluation: ``results`` are (labels, Normal | Alerting | NoData | Error) per series."""
        states = [s for _, s in results]
        for kind, setting in ((NODATA, self.rule.no_data_state), (ERROR, self.rule.exec_err_state)):
            if states and all(s == kind for s in states) and setting in ("Alerting", "OK", "KeepLast"):
                if self.instances:  # setNextStateForAll
                    for inst in self.instances.values():
                        self._transition(inst, kind, at)
                    return
        for labels, state in results:
            inst = self.instances.setdefault(labels, Instance(labels))
            self._transition(inst, state, at)
        self._missing(at)

    def _transition(self, inst: Instance, result: str, at: datetime) -> None:
        old = inst.state
        if result == NORMAL:
            self._normal(inst, at, "")
        elif result == ALERTING:
            self._alerting(inst, at, "")
        else:
            setting = self.rule.no_data_state if result == NODATA else self.rule.exec_err_state
            if setting == "Alerting":
                self._alerting(inst, at, result)
            elif setting == "OK":
                self._normal(inst, at, result)
            elif setting == "KeepLast":
                inst.reason = result
            else:
                inst.state, inst.reason, inst.starts_at = result, result, inst.starts_at if old == result else at
        inst.last_evaluated = at
        self._notify(inst, old, at)

    def _normal(self, inst: Instance, at: datetime, reason: str) -> None:
        if inst.state in FIRING and self.rule.keep_firing_for > timedelta(0):
            if inst.state == ALERTING:
                inst.state, inst.starts_at = RECOVERING, at
                return
            if at - inst.starts_at < self.rule.keep_firing_for:
                return
        if inst.state != NORMAL or inst.reason != reason:
            inst.state, inst.reason, inst.starts_at = NORMAL, reason, at

    def _alerting(self, inst: Instance, at: datetime, reason: str) -> None:
        if inst.state in FIRING:
            inst.state, inst.reason = ALERTING, reason
        elif inst.state == PENDING and inst.reason == reason:
            if at - inst.starts_at >= self.rule.pending:
                inst.state = ALERTING
        elif self.rule.pending > timedelta(0):
            inst.state, inst.reason, inst.starts_at = PENDING, reason, at
        else:
            inst.state, inst.reason, inst.starts_at = ALERTING, reason, at

    def _missing(self, at: datetime) -> None:
        for inst in self.instances.values():
            if inst.last_evaluated == at:
                continue
            evals = 1 if inst.state in (ERROR, NODATA) else self.rule.missing_series_evals_to_resolve
            if at - inst.last_evaluated >= evals * self.rule.interval:  # stateIsStale
                old = inst.state
                inst.state, inst.reason, inst.last_evaluated = NORMAL, "MissingSeries", at
                self._notify(inst, old, at)

    def _notify(self, inst: Instance, old: str, at: datetime) -> None:
        if old in FIRING | {ERROR, NODATA} and inst.state == NORMAL:
            self.sent.append(Notification(at, inst.labels, "resolved", inst.reason))
        elif inst.state in (ALERTING, ERROR, NODATA) and old != inst.state:
            self.sent.append(Notification(at, inst.labels, "firing", inst.reason))

    def firing(self) -> set[Labels]:
        return {k for k, v in self.instances.items() if v.state in FIRING}


def _duration(text: str) -> timedelta:
    units = {"s": 1, "m": 60, "h": 3600}
    return timedelta(seconds=int(text[:-1]) * units[text[-1]]) if text else timedelta(0)
