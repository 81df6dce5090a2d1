"""Engine throughput on the embedded PostgreSQL, next to the raw commit rate measured in the same run.

Run: .venv/bin/python bench/engine.py [--cases 400]
Prints one JSON line per figure. A throwaway, durable (fsync on) cluster is started
with the foundation's helper and removed afterwards. One-client figures are compared
with raw commits from one connection, 8-client figures with raw commits from 8 processes
(both sides get group commit). "no cached workflow" figures empty the process's
workflow cache first, as for a case that another process handled last.

This machine's commit latency swings two- to three-fold within minutes, so the one-client
completion figures are measured in rounds, each next to its own raw-commit measurement,
and report the median of the per-round ratios (with the lowest and highest).

"completion statements replayed" sends exactly the statements of real completions
(captured from completions that were rolled back) with no engine code around them:
the database's share alone, an upper bound for any completion that stores what
this one stores (case row with state, task-index delta, audit row, one commit).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.database import upgrade_database
from core.orm import make_engine, session_scope
from core.pgcluster import PgCluster
from engine.domains import load_domains
from engine.people.models import Department, User
from engine.workflow import cache as workflow_cache
from engine.workflow import case_store, runtime
from engine.workflow.bpmn.loader import compile_definition
from engine.workflow.commands import complete_task, start_case
from engine.workflow.definitions import deploy_definition
from engine.workflow.lanes import lane_rules
from engine.workflow.models import CaseTask
from engine.workflow.serialization import new_workflow, state_from_json, state_to_json

load_domains()  # as every Polis process does at start

BASELINE = "raw insert+commit"
ROUNDS = 8  # one-client completion figures: rounds, each next to its own raw measurement
RAW_PER_ROUND = 300
CLIENTS = 8  # processes (the GIL would cap threads); compared with raw commits from as many

TWO_STEP = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_Bench"
  targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="two_step_approval" name="Two-step approval" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l1" name="Clerk"><bpmn:flowNodeRef>StartEvent_1</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>Prepare</bpmn:flowNodeRef></bpmn:lane>
      <bpmn:lane id="l2" name="Head"><bpmn:flowNodeRef>Approve</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>EndEvent_1</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="StartEvent_1" name="Submitted"/>
    <bpmn:userTask id="Prepare" name="Prepare"/>
    <bpmn:userTask id="Approve" name="Approve"/>
    <bpmn:endEvent id="EndEvent_1" name="Approved"/>
    <bpmn:sequenceFlow id="f1" sourceRef="StartEvent_1" targetRef="Prepare"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Prepare" targetRef="Approve"/>
    <bpmn:sequenceFlow id="f3" sourceRef="Approve" targetRef="EndEvent_1"/>
  </bpmn:process>
</bpmn:definitions>"""


def emit(
    name: str, value: float, raw: float, clients: int = 1, ratio: float | None = None, **extra: Any
) -> None:
    """One JSON line, with the raw commit rate of this run as baseline."""
    line = {
        "name": name,
        "value": round(value, 1),
        "unit": "per s",
        "baseline": BASELINE,
        "baseline_value": round(raw, 1),
        "ratio": round(value / raw if ratio is None else ratio, 3),
        "clients": clients,
        **extra,
    }
    print(json.dumps(line), flush=True)


@dataclass
class Rounds:
    """A figure measured in rounds, each next to its own raw-commit measurement."""

    rates: list[float]
    raws: list[float]

    @property
    def ratios(self) -> list[float]:
        return [r / b for r, b in zip(self.rates, self.raws, strict=True)]

    def emit(self, name: str, **extra: Any) -> None:
        ratios = self.ratios
        emit(
            name,
            statistics.median(self.rates),
            statistics.median(self.raws),
            ratio=statistics.median(ratios),
            ratio_min=round(min(ratios), 3),
            ratio_max=round(max(ratios), 3),
            rounds=len(ratios),
            **extra,
        )


def in_rounds(
    items: list[Any], rounds: int, run: Callable[[list[Any]], None], raw: Callable[[], float]
) -> Rounds:
    """Split ``items`` in ``rounds`` chunks; time ``run`` on each right after a raw measurement."""
    size = len(items) // rounds
    result = Rounds([], [])
    for k in range(rounds):
        chunk = items[k * size : (k + 1) * size]
        result.raws.append(raw())
        result.rates.append(rate(len(chunk), lambda: run(chunk)))  # noqa: B023 - called at once
    return result


def rate(count: int, fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return count / (time.perf_counter() - start)


def raw_commit_rate(cluster: PgCluster, database: str, count: int) -> float:
    """Single-row INSERT + COMMIT on one connection: what PostgreSQL alone does here."""
    with psycopg.connect(**cluster.libpq_kwargs(database)) as conn:  # type: ignore[arg-type]
        conn.execute("CREATE TABLE IF NOT EXISTS bench_raw (id bigserial PRIMARY KEY, payload text)")
        conn.commit()

        def run() -> None:
            for i in range(count):
                conn.execute("INSERT INTO bench_raw (payload) VALUES (%s)", (f"row {i}",))
                conn.commit()

        return rate(count, run)


def _raw_client(kwargs: dict[str, Any], count: int, ready: Any, go: Any, results: Any) -> None:
    with psycopg.connect(**kwargs) as conn:
        conn.execute("SELECT 1")
        conn.rollback()
        ready.wait()
        go.wait()
        for i in range(count):
            conn.execute("INSERT INTO bench_raw (payload) VALUES (%s)", (f"row {i}",))
            conn.commit()
    results.put(time.time())


def raw_commit_rate_parallel(cluster: PgCluster, database: str, count: int, clients: int) -> float:
    """The same single-row INSERT + COMMIT from ``clients`` processes at once (group commit)."""
    kwargs = cluster.libpq_kwargs(database)
    return _in_processes(
        clients,
        count,
        lambda i, ready, go, results: (kwargs, count // clients, ready, go, results),
        _raw_client,
    )


def _in_processes(
    clients: int, count: int, args_of: Callable[..., tuple[Any, ...]], target: Callable[..., None]
) -> float:
    """Run ``target`` in ``clients`` forked processes started together; ``count`` per second overall."""
    context = multiprocessing.get_context("fork")
    go = context.Event()
    ready = context.Barrier(clients + 1)
    results = context.Queue()
    procs = [context.Process(target=target, args=args_of(i, ready, go, results)) for i in range(clients)]
    for proc in procs:
        proc.start()
    ready.wait()
    start = time.time()
    go.set()
    ends = [results.get(timeout=600) for _ in procs]
    for proc in procs:
        proc.join()
    return count / (max(ends) - start)


def replay_rate(
    cluster: PgCluster, database: str, captured: list[tuple[Any, Any]]
) -> Callable[[list[int]], None]:
    """Send captured (locked read, write) statement pairs as one transaction each, nothing else."""
    conn = psycopg.connect(**cluster.libpq_kwargs(database))  # type: ignore[arg-type]

    def run(indexes: list[int]) -> None:
        cursor = conn.cursor(row_factory=namedtuple_row)
        for i in indexes:
            (lock_sql, lock_params), (write_sql, write_params) = captured[i]
            cursor.execute(lock_sql, lock_params)
            cursor.fetchone()
            cursor.execute(write_sql, write_params)
            assert cursor.fetchone()[0] == 1  # the replayed write took effect
            conn.commit()

    return run


def bare_spiff(count: int) -> dict[str, float]:
    """The same process in SpiffWorkflow alone (no persistence, no serialization)."""
    compiled = compile_definition(TWO_STEP, "bench.bpmn", lane_rules().keys())
    spec, subs = compiled.spec, compiled.subprocess_specs

    def start() -> Any:
        workflow = new_workflow(spec, subs)
        workflow.do_engine_steps()
        return workflow

    def complete(workflow: Any) -> None:
        task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
        task.run()
        workflow.do_engine_steps()

    started = rate(count, lambda: [start() for _ in range(count)] and None)
    workflows = [start() for _ in range(count)]
    completed = rate(count, lambda: [complete(w) for w in workflows] and None)

    def approval() -> None:
        workflow = start()
        complete(workflow)
        complete(workflow)
        assert workflow.is_completed()

    approvals = rate(count, lambda: [approval() for _ in range(count)] and None)
    states = [state_to_json(start()) for _ in range(count)]

    def restore_run_save() -> None:
        for state in states:
            workflow = state_from_json(state, spec, subs)
            complete(workflow)
            state_to_json(workflow)

    round_trip = rate(count, restore_run_save)
    # What a command on a cached workflow must do at the least: run the task, serialize.
    workflows = [start() for _ in range(count)]

    def complete_save() -> None:
        for workflow in workflows:
            complete(workflow)
            state_to_json(workflow)

    complete_serialize = rate(count, complete_save)
    return {
        "started": started,
        "completed": completed,
        "approvals": approvals,
        "round_trip": round_trip,
        "complete_serialize": complete_serialize,
    }


def _complete_chunk(
    url: str, chunk: list[uuid.UUID], user_id: uuid.UUID, cold: bool, ready: Any, go: Any, results: Any
) -> None:
    """A client process: connect and warm up, wait for the start signal, complete its tasks."""
    if cold:  # as if another process had started the cases
        workflow_cache.clear()
    engine = make_engine(url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with session_scope(factory) as session:
        user = session.get(User, user_id)
        session.expunge(user)
    ready.wait()
    go.wait()
    for task_id in chunk:
        with session_scope(factory) as session:
            complete_task(session, task_id, {}, user)
    results.put(time.time())
    engine.dispose()


@contextmanager
def fetch_wrapped(wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Iterator[None]:
    """Route the hot path's driver-level statements (``case_store.fetch_one``) through ``wrap``."""
    plain = case_store.fetch_one
    case_store.fetch_one = runtime.fetch_one = wrap(plain)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        case_store.fetch_one = runtime.fetch_one = plain  # type: ignore[attr-defined]


def capture_completions(
    tasks: list[uuid.UUID], factory: sessionmaker[Session], user: User
) -> list[tuple[Any, Any]]:
    """The (locked read, write) statements of completing each task, rolled back after capture."""
    captured: list[tuple[Any, Any]] = []
    sent: list[tuple[str, dict[str, Any]]] = []

    def capturing(fetch: Callable[..., Any]) -> Callable[..., Any]:
        def capture(session: Session, sql: str, params: dict[str, Any]) -> Any:
            row = fetch(session, sql, params)
            if sql is case_store.LOCK_TASK:  # replay it as a command on a cached workflow does
                params = {**params, "token": row.state_token}
            sent.append((sql, dict(params)))
            return row

        return capture

    with fetch_wrapped(capturing):
        for task_id in tasks:
            sent.clear()
            workflow_cache.clear()  # the state is read, as for a case another process saved
            with factory() as session:
                complete_task(session, task_id, {}, user)
                session.rollback()
            lock = next(s for s in sent if s[0] is case_store.LOCK_TASK)
            write = next(s for s in sent if s[0] is case_store.UPDATE_CASE)
            captured.append((lock, write))
    return captured


def setup_org(factory: sessionmaker[Session]) -> tuple[uuid.UUID, User, User]:
    with session_scope(factory) as session:
        deploy_definition(session, TWO_STEP, "two_step_approval.bpmn")
        department = Department(code="BENCH", name_el="Τμήμα", name_en="Bench")
        session.add(department)
        session.flush()
        clerk = User(username="clerk", full_name="Clerk", department_id=department.id, roles=["clerk"])
        head = User(username="head", full_name="Head", department_id=department.id, roles=["head"])
        session.add_all([clerk, head])
        session.flush()
        return department.id, clerk, head


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=400)
    args = parser.parse_args()
    n = args.cases

    root = Path(tempfile.mkdtemp(prefix="polis-bench-"))
    root.chmod(0o755)
    cluster = PgCluster(root / "pg", durable=True)
    cluster.ensure_running()
    stack = ExitStack()  # undoes the statement counting's wrapping
    try:
        cluster.ensure_database("bench")
        url = cluster.url("bench")
        upgrade_database(url)
        raw = raw_commit_rate(cluster, "bench", max(n * 3, 2000))
        engine = make_engine(url)
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        statements = [0]
        event.listen(
            engine, "before_cursor_execute", lambda *a, **k: statements.__setitem__(0, statements[0] + 1)
        )

        # The hot path runs its two statements on the driver directly: count those too.
        def counting(fetch: Callable[..., Any]) -> Callable[..., Any]:
            def counted(*args: Any) -> Any:
                statements[0] += 1
                return fetch(*args)

            return counted

        stack.enter_context(fetch_wrapped(counting))
        department_id, clerk, head = setup_org(factory)

        def start_one() -> uuid.UUID:
            with session_scope(factory) as session:
                return start_case(session, "two_step_approval", department_id=department_id).id

        def task_of(case_id: uuid.UUID) -> uuid.UUID:
            with session_scope(factory) as session:
                task_id = session.scalar(select(CaseTask.task_id).where(CaseTask.case_id == case_id))
                assert task_id is not None
                return task_id

        def complete(task_id: uuid.UUID, user: User) -> None:
            with session_scope(factory) as session:
                complete_task(session, task_id, {}, user)

        start_one()  # warm the spec cache and the connection pool
        case_ids: list[uuid.UUID] = []
        statements[0] = 0
        started = rate(n, lambda: case_ids.extend(start_one() for _ in range(n)))
        per_start = statements[0] / n
        tasks = [task_of(c) for c in case_ids]

        def raw_round() -> float:
            return raw_commit_rate(cluster, "bench", RAW_PER_ROUND)

        def complete_all(chunk: list[uuid.UUID]) -> None:
            for task_id in chunk:
                complete(task_id, clerk)

        statements[0] = 0
        completed = in_rounds(tasks, ROUNDS, complete_all, raw_round)
        per_completion = statements[0] / (len(tasks) // ROUNDS * ROUNDS)

        # Other tasks, with no workflow in the process cache: what a process pays for a
        # case that another process handled last.
        cold_tasks = [task_of(start_one()) for _ in range(n)]

        def complete_cold(chunk: list[uuid.UUID]) -> None:
            workflow_cache.clear()
            complete_all(chunk)

        completed_cold = in_rounds(cold_tasks, ROUNDS, complete_cold, raw_round)

        # The database's share alone: capture the statements of completions that are then
        # rolled back (so they stay valid), and replay them with no engine code around.
        captured = capture_completions([task_of(start_one()) for _ in range(n)], factory, clerk)
        replayed = in_rounds(
            list(range(len(captured))), ROUNDS, replay_rate(cluster, "bench", captured), raw_round
        )

        def parallel_completions(clients: int, cold: bool) -> float:
            """Completions from ``clients`` processes at once (the GIL would cap threads)."""
            todo = [task_of(start_one()) for _ in range(n)]
            engine.dispose()  # children must not share the parent's connections
            return _in_processes(
                clients,
                n,
                lambda i, ready, go, results: (url, todo[i::clients], clerk.id, cold, ready, go, results),
                _complete_chunk,
            )

        completed_8 = parallel_completions(CLIENTS, cold=False)
        completed_8_cold = parallel_completions(CLIENTS, cold=True)
        raw_8 = raw_commit_rate_parallel(cluster, "bench", max(n * 3, 2000), CLIENTS)

        def approval() -> None:
            # Each step is its own committed command; the next task id comes back from the
            # command (as the web layer redirects to it), not from an extra inbox query.
            with session_scope(factory) as session:
                case = start_case(session, "two_step_approval", department_id=department_id)
                prepare = next(iter(case.ready_before))
            with session_scope(factory) as session:
                approve = next(iter(complete_task(session, prepare, {}, clerk).ready_before))
            with session_scope(factory) as session:
                assert complete_task(session, approve, {}, head).status == "completed"

        approvals = rate(n // 2, lambda: [approval() for _ in range(n // 2)] and None)
        bare = bare_spiff(n)
        emit("cases started", started, raw, sql_statements_per_command=round(per_start, 1))
        completed.emit("human-task completions", sql_statements_per_command=round(per_completion, 1))
        completed_cold.emit("human-task completions (no cached workflow)")
        replayed.emit("completion statements replayed (database share alone, no engine code)")
        # Replayed statements plus SpiffWorkflow's own run+serialize, one after the other:
        # what a completion could reach if everything else took no time at all.
        spiff = bare["complete_serialize"]
        Rounds([1 / (1 / r + 1 / spiff) for r in replayed.rates], replayed.raws).emit(
            "completion ceiling (replayed statements + bare SpiffWorkflow run+serialize)"
        )
        emit("human-task completions", completed_8, raw_8, clients=CLIENTS)
        emit("human-task completions (no cached workflow)", completed_8_cold, raw_8, clients=CLIENTS)
        emit("two-step approvals (start, Prepare, Approve; each committed)", approvals, raw)
        emit("bare SpiffWorkflow cases started (no persistence)", bare["started"], raw)
        emit("bare SpiffWorkflow task completions (no persistence)", bare["completed"], raw)
        emit("bare SpiffWorkflow two-step approvals (no persistence)", bare["approvals"], raw)
        emit("bare SpiffWorkflow restore+complete+serialize (no database)", bare["round_trip"], raw)
        emit("bare SpiffWorkflow complete+serialize (no database)", bare["complete_serialize"], raw)
        print(json.dumps({"name": BASELINE, "value": round(raw, 1), "unit": "per s", "clients": 1}))
        print(json.dumps({"name": BASELINE, "value": round(raw_8, 1), "unit": "per s", "clients": CLIENTS}))
        engine.dispose()
    finally:
        stack.close()
        cluster.stop(mode="fast")
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
