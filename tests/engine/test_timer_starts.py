"""Timer start events start new cases on schedule: exactly once per occurrence, on the newest version."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.clock import ATHENS
from engine.workflow.audit import case_history
from engine.workflow.bpmn.loader import compile_definition
from engine.workflow.commands import start_case
from engine.workflow.definitions import deploy_definition
from engine.workflow.errors import DeploymentError
from engine.workflow.jobs import start_worker_thread
from engine.workflow.models import Case, CaseTask, ProcessDefinition, TimerSchedule, Wakeup
from engine.workflow.schedules import set_paused
from engine.workflow.timer_starts import (
    TimerStartFired,
    TimerStartSkipped,
    fire_due_timer_start,
    fire_due_timer_starts,
)
from tests.engine.bpmn_builder import flow, process
from tests.engine.conftest import Org

T0 = datetime(2027, 3, 1, 7, 0, tzinfo=UTC)  # a Monday, 09:00 in Athens


def timer_process(
    expression: str,
    department: str,
    kind: str = "timeCycle",
    name: str = "Every hour",
    process_id: str = "hourly_check",
    extra_start: str = "",
    calendar: str | None = None,
) -> bytes:
    """A process whose timer start event leads to one Clerk task."""
    days = f'<camunda:property name="calendar" value="{calendar}"/>' if calendar else ""
    return process(
        f'<bpmn:startEvent id="Timer_start" name="{name}"><bpmn:extensionElements><camunda:properties>'
        f'<camunda:property name="department" value="{department}"/>{days}</camunda:properties>'
        f'</bpmn:extensionElements><bpmn:timerEventDefinition><bpmn:{kind} xsi:type="bpmn:tFormalExpression">'
        f"{expression}</bpmn:{kind}></bpmn:timerEventDefinition></bpmn:startEvent>"
        + extra_start
        + '<bpmn:userTask id="Look" name="Look"/><bpmn:endEvent id="Done" name="Done"/>'
        + flow("Timer_start", "Look")
        + flow("Look", "Done"),
        lanes={"Clerk": ["Timer_start", "Look", "Done"]},
        process_id=process_id,
    )


def schedule_of(session: Session, process_id: str = "hourly_check") -> TimerSchedule:
    session.expire_all()
    row = session.get(TimerSchedule, process_id)
    assert row is not None
    return row


def cases_of(session: Session, process_id: str = "hourly_check") -> list[Case]:
    return list(session.scalars(select(Case).where(Case.process_id == process_id).order_by(Case.created_at)))


def deploy_at(session: Session, when: datetime, data: bytes) -> None:
    # The shipped processes' schedules (deployed by the org fixture) would fire in 2027 too.
    session.execute(delete(TimerSchedule).where(TimerSchedule.process_id != "hourly_check"))
    with time_machine.travel(when, tick=False):
        deploy_definition(session, data, "hourly_check.bpmn")


def test_cycle_fires_at_its_due_time_and_starts_a_case_on_the_deployed_version(
    db_session: Session, org: Org
) -> None:
    deploy_at(db_session, T0, timer_process("R/PT1H", org.department.code))
    schedule = schedule_of(db_session)
    assert schedule.next_due_at == T0 + timedelta(hours=1) and schedule.remaining is None
    assert fire_due_timer_start(db_session, T0 + timedelta(minutes=59)) is None
    with time_machine.travel(T0 + timedelta(hours=1, seconds=20), tick=False):
        fired = fire_due_timer_start(db_session)
    assert fired is not None and fired.version == 1 and fired.missed == 0
    [case] = cases_of(db_session)
    assert case.department_id == org.department.id and case.data["scheduled_for"] == fired.due_at.isoformat()
    task = db_session.scalars(select(CaseTask).where(CaseTask.case_id == case.id)).one()
    assert (task.bpmn_id, task.role, task.department_id) == ("Look", "clerk", org.department.id)
    started = [e for e in case_history(db_session, case.id) if e.action == "case_started"]
    assert started[0].actor == "system" and started[0].details["data"]["timer_start"] == "Timer_start"
    # The case ran past its start event: no timer waits inside it.
    assert db_session.scalars(select(Wakeup).where(Wakeup.case_id == case.id)).all() == []
    assert schedule_of(db_session).next_due_at == T0 + timedelta(hours=2)
    assert fire_due_timer_start(db_session, T0 + timedelta(hours=1, minutes=30)) is None


def test_repetitions_count_down_and_stop(db_session: Session, org: Org) -> None:
    deploy_at(db_session, T0, timer_process("R3/PT1H", org.department.code))
    assert schedule_of(db_session).remaining == 3
    for hour, left in ((1, 2), (2, 1), (3, 0)):
        assert fire_due_timer_start(db_session, T0 + timedelta(hours=hour, minutes=1)) is not None
        assert fire_due_timer_start(db_session, T0 + timedelta(hours=hour, minutes=2)) is None
        assert schedule_of(db_session).remaining == left
    assert schedule_of(db_session).next_due_at is None
    assert fire_due_timer_start(db_session, T0 + timedelta(days=2)) is None
    assert len(cases_of(db_session)) == 3


def test_anchored_weekly_cycle_keeps_athens_wall_clock_time_across_dst(db_session: Session, org: Org) -> None:
    deploy_at(db_session, T0, timer_process("R/2027-03-08T08:00:00+02:00/P1W", org.department.code))
    due = schedule_of(db_session).next_due_at
    assert due is not None and due.astimezone(ATHENS).isoformat() == "2027-03-08T08:00:00+02:00"
    for _ in range(3):  # summer time starts on 28 March 2027
        assert fire_due_timer_start(db_session, due + timedelta(seconds=5)) is not None
        due = schedule_of(db_session).next_due_at
        assert due is not None
    assert due.astimezone(ATHENS).isoformat() == "2027-03-29T08:00:00+03:00"


def test_redeploying_moves_the_schedule_to_the_new_version(db_session: Session, org: Org) -> None:
    code = org.department.code
    deploy_at(db_session, T0, timer_process("R5/PT1H", code))
    assert fire_due_timer_start(db_session, T0 + timedelta(hours=1, minutes=1)) is not None
    # Same expression, new version (a renamed event): the series goes on where it was.
    deploy_at(db_session, T0 + timedelta(hours=1, minutes=10), timer_process("R5/PT1H", code, name="Hourly"))
    schedule = schedule_of(db_session)
    version_2 = db_session.scalar(
        select(ProcessDefinition.id).where(
            ProcessDefinition.process_id == "hourly_check", ProcessDefinition.version == 2
        )
    )
    assert (schedule.definition_id, schedule.remaining, schedule.element_name) == (version_2, 4, "Hourly")
    assert schedule.next_due_at == T0 + timedelta(hours=2)
    fired = fire_due_timer_start(db_session, T0 + timedelta(hours=2, minutes=1))
    assert fired is not None and fired.version == 2
    assert fire_due_timer_start(db_session, T0 + timedelta(hours=2, minutes=2)) is None  # v1 fires nothing
    assert [db_session.get(ProcessDefinition, c.definition_id).version for c in cases_of(db_session)] == [
        1,
        2,
    ]  # type: ignore[union-attr]
    # A changed expression starts afresh from its deployment.
    deploy_at(db_session, T0 + timedelta(hours=2, minutes=30), timer_process("R2/PT2H", code))
    schedule = schedule_of(db_session)
    assert (schedule.remaining, schedule.next_due_at) == (2, T0 + timedelta(hours=4, minutes=30))
    # A version without a timer start removes the schedule.
    plain = process(
        '<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>' + flow("s", "e"), process_id="hourly_check"
    )
    deploy_at(db_session, T0 + timedelta(hours=3), plain)
    db_session.expire_all()
    assert db_session.get(TimerSchedule, "hourly_check") is None


def test_missed_occurrences_start_one_case_then_the_series_goes_on(db_session: Session, org: Org) -> None:
    deploy_at(db_session, T0, timer_process("R10/PT1H", org.department.code))
    # The worker was down from before the first occurrence until 5h10m later.
    back = T0 + timedelta(hours=5, minutes=10)
    fired = fire_due_timer_start(db_session, back)
    assert fired is not None and fired.missed == 4 and fired.due_at == T0 + timedelta(hours=1)
    assert fire_due_timer_start(db_session, back) is None
    [case] = cases_of(db_session)
    assert case.data["missed_occurrences"] == 4
    schedule = schedule_of(db_session)
    assert (schedule.next_due_at, schedule.remaining) == (T0 + timedelta(hours=6), 5)


def test_outage_then_concurrent_sweeps_start_exactly_one_case(
    committed_engine: Engine, committed_org: Org
) -> None:
    factory = sessionmaker(bind=committed_engine, expire_on_commit=False)
    with factory.begin() as session:
        deploy_at(session, T0, timer_process("R/P1D", committed_org.department.code))
    back = T0 + timedelta(days=3, hours=2)  # three daily occurrences passed with no worker
    barrier = threading.Barrier(4)
    results: list[int] = []

    def sweep() -> None:
        barrier.wait()
        results.append(fire_due_timer_starts(factory, now=back))

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [0, 0, 0, 1]
    with Session(committed_engine) as session:
        [case] = cases_of(session)
        assert case.data["missed_occurrences"] == 2
        assert schedule_of(session).next_due_at == T0 + timedelta(days=4)
        assert session.scalar(select(func.count()).select_from(Case)) == 1


def test_a_crash_before_commit_starts_nothing_and_keeps_the_occurrence(
    committed_engine: Engine, committed_org: Org
) -> None:
    factory = sessionmaker(bind=committed_engine, expire_on_commit=False)
    with factory.begin() as session:
        deploy_at(session, T0, timer_process("R/PT1H", committed_org.department.code))
    due = T0 + timedelta(hours=1, minutes=1)
    with pytest.raises(RuntimeError), factory.begin() as session:
        assert fire_due_timer_start(session, due) is not None
        raise RuntimeError("the worker died before its commit")
    with Session(committed_engine) as session:
        assert cases_of(session) == [] and schedule_of(session).next_due_at == T0 + timedelta(hours=1)
    assert fire_due_timer_starts(factory, now=due) == 1


def test_a_missing_department_keeps_the_occurrence_and_shows_the_error(
    committed_engine: Engine, committed_org: Org
) -> None:
    factory = sessionmaker(bind=committed_engine, expire_on_commit=False)
    with factory.begin() as session:
        deploy_at(session, T0, timer_process("R/PT1H", "NOWHERE"))
    assert fire_due_timer_starts(factory, now=T0 + timedelta(hours=1, minutes=1)) == 0
    with Session(committed_engine) as session:
        schedule = schedule_of(session)
        assert schedule.last_error is not None and "NOWHERE" in schedule.last_error
        assert schedule.next_due_at == T0 + timedelta(hours=1, minutes=6) and cases_of(session) == []


def test_paused_schedules_start_nothing_and_resume_from_now(db_session: Session, org: Org) -> None:
    deploy_at(db_session, T0, timer_process("R/PT1H", org.department.code))
    set_paused(db_session, "hourly_check", True)
    assert fire_due_timer_start(db_session, T0 + timedelta(hours=3, minutes=1)) is None
    with time_machine.travel(T0 + timedelta(hours=3, minutes=30), tick=False):
        set_paused(db_session, "hourly_check", False)
    assert schedule_of(db_session).next_due_at == T0 + timedelta(hours=4)


def test_one_time_date_fires_once(db_session: Session, org: Org) -> None:
    deploy_at(db_session, T0, timer_process("2027-03-02T08:30:00", org.department.code, kind="timeDate"))
    due = schedule_of(db_session).next_due_at
    assert due is not None and due.astimezone(ATHENS).isoformat() == "2027-03-02T08:30:00+02:00"
    assert fire_due_timer_start(db_session, due + timedelta(minutes=1)) is not None
    assert schedule_of(db_session).next_due_at is None
    assert fire_due_timer_start(db_session, due + timedelta(days=1)) is None


def test_a_timer_start_process_started_by_hand_runs_at_once(db_session: Session, org: Org) -> None:
    deploy_at(db_session, T0, timer_process("R/P1D", org.department.code))
    case = start_case(db_session, "hourly_check", department_id=org.department.id)
    assert db_session.scalars(select(CaseTask.bpmn_id).where(CaseTask.case_id == case.id)).all() == ["Look"]
    assert db_session.scalars(select(Wakeup).where(Wakeup.case_id == case.id)).all() == []


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("R/P3X", "is not an ISO 8601 duration"),
        ("every day", "neither an ISO 8601 repeating interval nor a cron expression"),
        ("R0/PT1H", "repeats zero times"),
        ("${cycle}", "no case data"),
        ("0 0 8 ? * 2-6", "by name"),
        ("0 0 25 * * ?", "not a valid cron expression"),
        ("R/PT1H/2027-01-01T00:00:00Z", "a cycle that ends at a date is not supported"),
    ],
)
def test_bad_cycle_is_refused_at_deploy_naming_the_event(
    db_session: Session, expression: str, reason: str
) -> None:
    before = db_session.scalar(select(func.count()).select_from(ProcessDefinition))
    with pytest.raises(DeploymentError, match=r'Timer_start "Every hour": timer start timeCycle') as info:
        deploy_definition(db_session, timer_process(expression, "PROT"), "hourly_check.bpmn")
    assert reason in str(info.value)
    assert db_session.scalar(select(func.count()).select_from(ProcessDefinition)) == before


def test_bad_date_and_duration_are_refused() -> None:
    with pytest.raises(DeploymentError, match="not an ISO 8601 date and time"):
        compile_definition(timer_process("next monday", "PROT", kind="timeDate"))
    with pytest.raises(DeploymentError, match="not an ISO 8601 duration"):
        compile_definition(timer_process("1 hour", "PROT", kind="timeDuration"))


def test_timer_start_with_another_start_event_is_refused() -> None:
    other = '<bpmn:startEvent id="By_hand" name="By hand"/>' + flow("By_hand", "Look")
    with pytest.raises(DeploymentError, match=r"may have no other start event \(found By_hand\)"):
        compile_definition(timer_process("R/P1D", "PROT", extra_start=other))


def test_timer_start_without_department_is_refused_when_people_work_on_it() -> None:
    data = timer_process("R/P1D", "PROT").replace(b'name="department"', b'name="other"')
    with pytest.raises(DeploymentError, match="need a department for their tasks"):
        compile_definition(data)


def test_real_worker_fires_an_occurrence_due_during_its_outage_once(
    committed_engine: Engine, committed_org: Org
) -> None:
    """Two procrastinate workers start after the due time: one case (the sweep runs at start)."""
    factory = sessionmaker(bind=committed_engine, expire_on_commit=False)
    due = (datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0)
    with factory.begin() as session:
        session.execute(delete(TimerSchedule))
        deploy_definition(
            session, timer_process(due.isoformat(), committed_org.department.code, kind="timeDate"), "x.bpmn"
        )
    time.sleep(2.5)  # the outage: the start comes due while no worker runs
    workers = [start_worker_thread(factory, poll_seconds=0.1) for _ in range(2)]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with Session(committed_engine) as session:
            if cases_of(session):
                break
        time.sleep(0.1)
    time.sleep(0.5)  # give a duplicate every chance to happen
    for _, stop in workers:
        stop.set()
    for thread, _ in workers:
        thread.join(10)
        assert not thread.is_alive()
    with Session(committed_engine) as session:
        assert len(cases_of(session)) == 1
        assert schedule_of(session).next_due_at is None


def test_a_working_days_schedule_passes_over_public_holidays(db_session: Session, org: Org) -> None:
    """Christmas 2026 is a Friday: the 08:00 weekday start skips it (no case) and comes back Monday."""
    eve = datetime(2026, 12, 24, 12, 0, tzinfo=UTC)
    deploy_at(
        db_session, eve, timer_process("0 0 8 ? * MON-FRI", org.department.code, calendar="working_days")
    )
    christmas = schedule_of(db_session).next_due_at
    assert christmas is not None and christmas.astimezone(ATHENS).date() == date(2026, 12, 25)
    skipped = fire_due_timer_start(db_session, christmas + timedelta(seconds=30))
    assert isinstance(skipped, TimerStartSkipped) and cases_of(db_session) == []
    monday = schedule_of(db_session).next_due_at
    assert monday is not None and monday.astimezone(ATHENS) == datetime(2026, 12, 28, 8, 0, tzinfo=ATHENS)
    fired = fire_due_timer_start(db_session, monday + timedelta(seconds=30))
    assert isinstance(fired, TimerStartFired) and len(cases_of(db_session)) == 1


def test_without_the_calendar_property_a_holiday_starts_a_case(db_session: Session, org: Org) -> None:
    eve = datetime(2026, 12, 24, 12, 0, tzinfo=UTC)
    deploy_at(db_session, eve, timer_process("0 0 8 ? * MON-FRI", org.department.code))
    christmas = schedule_of(db_session).next_due_at
    assert christmas is not None and not schedule_of(db_session).working_days_only
    assert isinstance(fire_due_timer_start(db_session, christmas + timedelta(seconds=30)), TimerStartFired)


def test_an_unknown_calendar_is_refused_at_deploy(db_session: Session, org: Org) -> None:
    with pytest.raises(DeploymentError, match=r"calendar = 'weekdays' is unknown"):
        deploy_at(db_session, T0, timer_process("R/P1D", org.department.code, calendar="weekdays"))
