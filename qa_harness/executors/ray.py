"""The Ray executor: pairs evaluated by Ray actors, on this machine or across a cluster.

One actor holds one `Worker` (model and metrics built once, on the actor's GPU when
`gpus_per_worker > 0`). The driver hands out pairs (each pair is one driving clip) to actors, at most
`in_flight` per actor, and takes finished ones back in completion order (`ray.wait`); each result goes
to `on_result` at once, so only the driver writes the run folder and MLflow, and a driver killed
mid-run loses nothing that `--resume` cannot pick up. Pairs are seeded by the runner (run seed + pair
id), so records do not depend on which actor ran a pair or in what order: a Ray run and a local run
give identical records.

Faults are booked here rather than left to Ray's `max_task_retries`: an actor runs its calls in
submission order, so when its process dies only the oldest pair in flight on it was running. That
pair is charged one attempt and requeued; the pairs queued behind it are requeued free. A pair charged
`max_attempts` times (it kills its worker every time) is recorded as a failed outcome. The dead actor
is replaced by a new one. Ray's own retries would charge every queued pair for one crash.

Ground-truth face analysis is read from the suite cache (`<suite dir>/.qa_cache`, or `$QA_HARNESS_CACHE`,
see `packaged.suite_cache_dir`): actors on one machine share it; on a cluster, the suite, its media and the
cache must be on a filesystem every node mounts at the same path (README, "Scale-out on Ray").

Ray is optional (`pip install 'qa_harness[ray]'`) and imported only here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qa_harness.errors import QaHarnessError
from qa_harness.executors.local import ResultSink
from qa_harness.executors.worker import MetricsInfo, Worker, WorkSpec
from qa_harness.records import ClipOutcome, Pair

log = logging.getLogger(__name__)

INSTALL_HINT = "the ray executor needs Ray: pip install 'qa_harness[ray]'"


def import_ray() -> Any:
    """The `ray` module, or a QaHarnessError saying how to install it."""
    try:
        import ray
    except ImportError as err:
        raise QaHarnessError(f"{INSTALL_HINT} ({err})") from err
    return ray


def local_cpus(workers: int | None, cpus_per_worker: float) -> int | None:
    """CPUs a private local instance declares: all cores, more if `workers` explicitly asks for more."""
    return max(os.cpu_count() or 1, int(workers * cpus_per_worker)) if workers else None


@contextlib.contextmanager
def ray_session(address: str | None = None, *, num_cpus: int | None = None) -> Iterator[Any]:
    """Connect to Ray for the duration of the block; reuse a connection that is already open.

    No `address`: a private local instance (no dashboard) that is shut down afterwards. `auto`: the
    cluster this machine belongs to (run on a head node); `ray://HOST:PORT`: a remote cluster via Ray
    Client (needs `ray[client]`).
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    sigterm = signal.getsignal(signal.SIGTERM)
    if address:
        try:
            ray.init(address=address, logging_level=logging.WARNING)
        except Exception as err:  # ConnectionError, or a version mismatch: both need the user's hand
            raise QaHarnessError(f"cannot connect to the Ray cluster at {address!r}: {err}") from err
    else:
        ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING)
    if callable(sigterm) and threading.current_thread() is threading.main_thread():
        # Ray's core worker replaces the process's SIGTERM handler with its own (it logs, then turns the
        # `ray.wait` in progress into SystemExit(1): exit 4, then SIGABRT); put ours back (exit 143, KILLED)
        signal.signal(signal.SIGTERM, sigterm)
    try:
        yield ray
    finally:
        ray.shutdown()


class PairActor:
    """The body of a Ray actor: one `Worker`; a build error is kept and reported by `ready`."""

    def __init__(self, spec: WorkSpec) -> None:
        self.worker, self.error = None, ""
        try:
            self.worker = Worker(spec)
        except Exception as err:  # reported to the driver by ready(), which raises it there
            self.error = str(err) if isinstance(err, QaHarnessError) else f"{type(err).__name__}: {err}"

    def ready(self) -> tuple[int, MetricsInfo, str]:
        """(process id, what its metrics are, build error or '')."""
        return os.getpid(), self.worker.info if self.worker else MetricsInfo(), self.error

    def evaluate(self, pair: Pair) -> tuple:
        return self.worker.evaluate(pair)


@dataclass
class _Slot:
    """One actor and its pairs in flight, oldest (the one running) first."""

    actor: Any
    in_flight: deque = field(default_factory=deque)  # (ObjectRef, Pair)


#: Variables that say where weights and caches are, passed on to the workers of a private local instance.
FORWARDED_ENV = ("QA_HARNESS_WEIGHTS", "TORCH_HOME", "QA_HARNESS_CACHE", "XDG_CACHE_HOME")


class RayExecutor:
    """Evaluates pairs on Ray actors; see the module docstring for scheduling and faults.

    `address`: None (a private local instance), `auto` or `ray://HOST:PORT`; `workers`: actors (default:
    the cluster's GPUs / `gpus_per_worker`, else its CPUs / `cpus_per_worker`); `max_attempts`: worker
    deaths a pair may cause before it is recorded as failed; `in_flight`: pairs queued per actor (2 hides
    the round trip between pairs); `env`: environment variables for the workers (a Ray runtime_env).
    """

    def __init__(
        self,
        *,
        address: str | None = None,
        workers: int | None = None,
        gpus_per_worker: float = 0.0,
        cpus_per_worker: float = 1.0,
        max_attempts: int = 3,
        in_flight: int = 2,
        env: Mapping[str, str] | None = None,
    ) -> None:
        for name, value in (
            ("workers", 1 if workers is None else workers),
            ("cpus_per_worker", cpus_per_worker),
            ("max_attempts", max_attempts),
            ("in_flight", in_flight),
        ):
            if value <= 0:
                raise QaHarnessError(f"ray executor: {name} must be positive, got {value}")
        if gpus_per_worker < 0:
            raise QaHarnessError(f"ray executor: gpus_per_worker must be >= 0, got {gpus_per_worker}")
        self.address, self.workers, self.gpus, self.cpus = address, workers, gpus_per_worker, cpus_per_worker
        self.max_attempts, self.in_flight, self.env = max_attempts, in_flight, dict(env or {})

    def _worker_env(self) -> dict[str, str]:
        """`env`, over the driver's weight and cache folders (`FORWARDED_ENV`) when the workers run on this
        machine (a private local instance): workers must find the weights and caches the driver would."""
        local = {k: os.environ[k] for k in FORWARDED_ENV if os.environ.get(k)} if self.address is None else {}
        return local | self.env

    def run(
        self, pairs: Sequence[Pair], spec: WorkSpec, *, on_result: ResultSink, on_frames: Callable[[int], None]
    ) -> MetricsInfo:
        """Evaluate `pairs`; returns what the workers' metrics are (unavailable ones, directions)."""
        if not pairs:
            return MetricsInfo()
        with ray_session(self.address, num_cpus=local_cpus(self.workers, self.cpus)) as ray:
            options: dict[str, Any] = {"num_cpus": self.cpus, "max_restarts": 0}
            if self.gpus:
                options["num_gpus"] = self.gpus
            if env := self._worker_env():
                options["runtime_env"] = {"env_vars": env}
            actor_class = ray.remote(**options)(PairActor)
            spec_ref = ray.put(spec)
            slots = [_Slot(actor_class.remote(spec_ref)) for _ in range(self._worker_count(ray, len(pairs)))]
            try:
                info = self._check_ready(ray, slots, spec)
                _Dispatch(
                    ray,
                    slots,
                    lambda: actor_class.remote(spec_ref),
                    pairs,
                    self.max_attempts,
                    self.in_flight,
                    on_result,
                    on_frames,
                ).run()
            finally:
                for slot in slots:
                    ray.kill(slot.actor, no_restart=True)
        return info

    def _worker_count(self, ray: Any, n_pairs: int) -> int:
        if self.workers:
            return min(self.workers, n_pairs)
        resources = ray.cluster_resources()
        kind, per = ("GPU", self.gpus) if self.gpus else ("CPU", self.cpus)
        offered = int(resources.get(kind, 0) // per)
        if offered < 1:
            raise QaHarnessError(f"the Ray cluster offers {resources.get(kind, 0):g} {kind}s; a worker needs {per:g}")
        return min(offered, n_pairs)

    @staticmethod
    def _check_ready(ray: Any, slots: list[_Slot], spec: WorkSpec) -> MetricsInfo:
        info = MetricsInfo()
        try:
            readies = ray.get([slot.actor.ready.remote() for slot in slots])
        except ray.exceptions.RayActorError as err:
            reason = str(err).strip().splitlines()[0]
            raise QaHarnessError(f"a Ray worker died while building model {spec.model!r}: {reason}") from err
        for pid, worker_info, error in readies:
            if error:
                raise QaHarnessError(f"Ray worker could not build model {spec.model!r}: {error}")
            log.debug("ray worker pid %d ready", pid)
            info.unavailable.update(worker_info.unavailable)
            info.higher_is_better.update(worker_info.higher_is_better)
        return info


class _Dispatch:
    """The driver's loop: keep every actor busy, collect results, book and retry deaths."""

    def __init__(
        self,
        ray: Any,
        slots: list[_Slot],
        new_actor: Callable[[], Any],
        pairs: Sequence[Pair],
        max_attempts: int,
        in_flight: int,
        on_result: ResultSink,
        on_frames: Callable[[int], None],
    ) -> None:
        self.ray, self.slots, self.new_actor = ray, slots, new_actor
        self.queue: deque[Pair] = deque(pairs)
        self.attempts: Counter[str] = Counter()
        self.started: dict[str, float] = {}
        self.max_attempts, self.in_flight = max_attempts, in_flight
        self.on_result, self.on_frames = on_result, on_frames

    def run(self) -> None:
        self._fill()
        while owner := {ref: slot for slot in self.slots for ref, _ in slot.in_flight}:
            (ref,), _ = self.ray.wait(list(owner), num_returns=1)
            slot = owner[ref]
            try:
                outcome, records = self.ray.get(ref)
            except self.ray.exceptions.RayActorError as err:
                self._actor_died(slot, err)
            else:
                slot.in_flight = deque(e for e in slot.in_flight if e[0] != ref)
                self.on_frames(outcome.frames)
                self.on_result(outcome, records)
            self._fill()

    def _fill(self) -> None:
        for slot in self.slots:
            while self.queue and len(slot.in_flight) < self.in_flight:
                pair = self.queue.popleft()
                self.started.setdefault(pair.id, time.perf_counter())
                slot.in_flight.append((slot.actor.evaluate.remote(pair), pair))

    def _actor_died(self, slot: _Slot, err: Exception) -> None:
        (_, running), *queued = slot.in_flight
        self.attempts[running.id] += 1
        reason = str(err).strip().splitlines()[0]
        log.warning(
            "a Ray worker died while evaluating pair %r (attempt %d of %d): %s",
            running.id,
            self.attempts[running.id],
            self.max_attempts,
            reason,
        )
        self.queue.extendleft(pair for _, pair in reversed(queued))
        if self.attempts[running.id] < self.max_attempts:
            self.queue.appendleft(running)
        else:
            error = (
                f"the worker process died on each of {self.max_attempts} attempts at this pair "
                f"(killed or crashed; last: {reason})"
            )
            self.on_result(
                ClipOutcome(running.id, "failed", 0, time.perf_counter() - self.started[running.id], error=error), None
            )
        self.ray.kill(slot.actor, no_restart=True)
        slot.actor, slot.in_flight = self.new_actor(), deque()


def build(
    *, address: str | None = None, workers: int | None = None, gpus_per_worker: float = 0.0, **options: Any
) -> RayExecutor:
    """The `ray` entry of `catalog.EXECUTORS`; fails at once, with the install line, when Ray is absent."""
    import_ray()
    return RayExecutor(address=address, workers=workers, gpus_per_worker=gpus_per_worker, **options)
