"""The served model's lifecycle: background load, readiness, batching and monitoring."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from inferstack.runtime.batcher import Batcher
from inferstack.runtime.capture_ids import RequestIds
from inferstack.runtime.errors import (
    InferstackError,
    ModelNotReady,
    PayloadTooLarge,
    PredictionError,
)
from inferstack.runtime.gc_hold import full_collections_held
from inferstack.runtime.manifest import Manifest, read_manifest
from inferstack.runtime.metrics import Metrics
from inferstack.runtime.model import ServedModel, load_bundle
from inferstack.runtime.settings import RuntimeSettings

# Monitoring, capture, explanations and the CloudWatch emitter are imported where they
# are first set up (after the model loaded, or on the first explanation): the server
# answers its readiness route without them.
if TYPE_CHECKING:
    from inferstack.runtime.anomalies import AnomalyCheck
    from inferstack.runtime.emf import DriftEmitter, QualityEmitter
    from inferstack.runtime.explain_service import ExplainService
    from inferstack.runtime.feedback import Feedback
    from inferstack.runtime.monitoring import Capture, DriftMonitor, Observer

log = logging.getLogger("inferstack.runtime")
CAPTURE_DRAIN_S = 10.0
"""At most this long (within the SIGTERM drain) to flush captured records at shutdown."""


class ModelService:
    """Loads the bundle off the event loop and runs requests through the batcher.

    Readiness is true only once the model loaded; a bundle that fails to load keeps it
    false, and the reason is logged and kept in ``load_error``.
    """

    def __init__(self, settings: RuntimeSettings, bundle_dir: Path | None = None) -> None:
        self.settings = settings
        self.bundle_dir = Path(bundle_dir or settings.bundle_dir)
        self.model: ServedModel | None = None
        self.manifest: Manifest | None = None
        self.load_error: str | None = None
        self.batcher: Batcher | None = None
        self.drift: DriftMonitor | None = None
        self.capture: Capture | None = None
        self.observer: Observer | None = None
        self.emitter: DriftEmitter | None = None
        self.quality_emitter: QualityEmitter | None = None
        self.feedback: Feedback | None = None
        self.anomalies: AnomalyCheck | None = None
        self._explanations: ExplainService | None = None
        self.ids = RequestIds()
        self._load_task: asyncio.Task[None] | None = None
        self._bundle_manifest: Manifest | None = None  # as read, before a rename
        try:
            self.manifest = self._bundle_manifest = read_manifest(self.bundle_dir)
            if settings.model_name:  # the deployment names what it serves
                self.manifest = self.manifest.model_copy(update={"name": settings.model_name})
        except InferstackError as err:
            self.load_error = err.message
            log.error("bundle cannot be read", extra={"error": err.message})
        m = self.manifest
        self.name = m.name if m else "unknown"
        self.version = m.version if m else "unknown"
        self.metrics = Metrics(
            self.name, self.version, m.framework if m else "unknown", settings.environment
        )

    @property
    def explanations(self) -> ExplainService:
        """Explanations' threads and state, made on the first explanation."""
        if self._explanations is None:
            from inferstack.runtime.explain_service import ExplainService

            self._explanations = ExplainService(self, self.settings)
        return self._explanations

    @property
    def ready(self) -> bool:
        """True once the model is loaded and the batcher runs."""
        return self.batcher is not None

    async def wait_loaded(self, within_s: float | None) -> bool:
        """Whether the model is ready, waiting up to ``within_s`` seconds (``None``: until
        it ends) for a load in progress; the load is never cancelled here, even if the
        waiting request is."""
        task = self._load_task
        if self.batcher is None and task is not None and not task.done():
            await asyncio.wait({task}, timeout=within_s)
        return self.ready

    async def start(self) -> None:
        """Begin loading in a thread; returns at once so liveness answers meanwhile."""
        if self.manifest is not None:
            self._load_task = asyncio.get_running_loop().create_task(self._load())

    async def _load(self) -> None:
        with full_collections_held():  # until everything loaded is frozen
            await self._load_model()

    async def _load_model(self) -> None:
        start = time.perf_counter()
        try:
            model = await asyncio.get_running_loop().run_in_executor(
                None,
                functools.partial(
                    load_bundle,
                    self.bundle_dir,
                    fast_path=self.settings.fast_path,
                    allow_pickle=self.settings.allow_pickle,
                    manifest=self._bundle_manifest,
                ),
            )
        except Exception as err:  # noqa: BLE001 - any failure keeps readiness false
            self.load_error = str(err)
            log.error(
                "model failed to load", extra={"error": str(err), "bundle": str(self.bundle_dir)}
            )
            return
        self.model = model
        self.metrics.load_seconds.set(time.perf_counter() - start)
        user = getattr(model.predictor, "user", None)
        if user is not None and hasattr(user, "observe_step"):  # composed: per-part latency
            user.observe_step = self.metrics.observe_step
        self._setup_monitoring(model)
        batching = model.manifest.batching
        s = self.settings
        max_wait = s.max_batch_wait_ms if s.max_batch_wait_ms is not None else batching.max_wait_ms
        observe_size = self.metrics.batch_size.observe

        def run(batch: np.ndarray) -> Any:
            observe_size(len(batch))  # every model call, including ones that fail
            try:
                out = model.run(batch)
            except InferstackError:
                raise
            except Exception as err:  # a model error on valid input: a 500 naming it
                log.exception("model raised on a batch", extra={"rows": len(batch)})
                raise PredictionError(
                    f"the model raised {type(err).__name__}: {str(err)[:200]}"
                ) from err
            try:
                count: int | None = len(out)
            except TypeError:  # a scalar, or a 0-d array
                count = None
            if count != len(batch):  # custom predictors skip the load-time probe
                raise PredictionError(
                    f"the model returned {count if count is not None else 'no list of'} "
                    f"outputs for {len(batch)} rows; it must return one per row"
                )
            if model.probe_output is None:  # no probe typed the V2 metadata yet
                model.note_output(out)
            return out

        self.batcher = Batcher(
            run,
            max_batch_size=s.max_batch_size or batching.max_batch_size,
            max_wait_s=max_wait / 1000.0,
            on_batch=self._observe,
            on_depth=self.metrics.queue_depth.set,
        )
        self.batcher.start()
        self._start_emf()
        # Everything loaded so far (framework modules, the model) lives for the whole
        # process: move it out of the collector's reach so full collections stay short.
        # No gc.collect() first: after loading scikit-learn it freed under 100 objects
        # and took 0.15 s on the event loop, delaying readiness.
        gc.freeze()
        log.info(
            "model ready",
            extra={
                "model": self.name,
                "version": self.version,
                "load_seconds": round(time.perf_counter() - start, 3),
            },
        )

    def _setup_monitoring(self, model: ServedModel) -> None:
        s = self.settings
        try:  # each part alone: a drift failure must not turn capture off too
            if model.manifest.reference and s.drift:
                from inferstack.runtime.monitoring import DriftMonitor

                self.drift = DriftMonitor(
                    model.manifest.reference,
                    model.manifest.input.names,
                    window=s.drift_window,
                    min_rows=s.drift_min_rows,
                    period_s=s.drift_period_s,
                    dtypes=list(model.manifest.input.dtypes),
                    prediction=model.manifest.prediction_reference,
                    output=model.manifest.output,
                    samples=_samples_path(self.bundle_dir, model.manifest.reference_samples),
                )
        except Exception:  # monitoring never breaks inference
            log.exception("drift monitor setup failed; serving without it")
        try:
            m = model.manifest
            if m.reference and s.anomaly_check:
                from inferstack.runtime.anomalies import AnomalyCheck

                check = AnomalyCheck(m.reference, m.input.names, list(m.input.dtypes))
                self.anomalies = check if check.active else None
        except Exception:  # monitoring never breaks inference
            log.exception("anomaly check setup failed; serving without it")
        try:
            self.capture = self._capture()
        except Exception:  # monitoring never breaks inference
            log.exception("data capture setup failed; serving without it")
        try:
            from inferstack.runtime.feedback import Feedback

            self.feedback = Feedback(
                model.manifest.output, s.quality_window, s.feedback_max_pending, s.feedback_ttl_s
            )
        except Exception:  # monitoring never breaks inference
            log.exception("feedback setup failed; serving without it")
        if self.drift is not None or self.capture is not None:
            from inferstack.runtime.monitoring import Observer

            self.observer = Observer(self.drift, self.capture)

    def _capture(self) -> Capture | None:
        """The capture and its sinks' queues (a folder, an object store, or both)."""
        s = self.settings
        if s.capture_sample_rate <= 0 or (s.capture_dir is None and s.capture_uri is None):
            return None
        from inferstack.runtime.capture import CaptureQueue
        from inferstack.runtime.capture_sinks import FileSink, Sink, object_sink
        from inferstack.runtime.monitoring import Capture

        sinks: list[Sink] = []
        if s.capture_dir is not None:
            sinks.append(FileSink(s.capture_dir, self.name, self.version))
        if s.capture_uri is not None:
            sinks.append(object_sink(s.capture_uri, self.name, self.version, s.capture_kms_key))
        queues = []
        for sink in sinks:
            written, dropped = self.metrics.capture_counters(sink.name)
            queues.append(
                CaptureQueue(
                    sink,
                    max_records=s.capture_queue_records,
                    flush_records=s.capture_flush_records,
                    flush_interval_s=s.capture_flush_interval_s,
                    on_written=written,
                    on_dropped=dropped,
                )
            )
        return Capture(s.capture_dir, s.capture_sample_rate, self.name, self.version, queues)

    def _start_emf(self) -> None:
        s = self.settings
        if not s.cloudwatch_emf:
            return
        from inferstack.runtime.emf import DriftEmitter, QualityEmitter

        if self.feedback is not None:
            try:
                self.quality_emitter = QualityEmitter(
                    self.quality,
                    s.endpoint_name or "unknown",
                    s.variant or "unknown",
                    s.cloudwatch_emf_interval_s,
                    properties={"model": self.name, "version": self.version},
                )
                self.quality_emitter.start()
            except Exception:  # monitoring never breaks inference
                log.exception("cloudwatch emf setup failed; serving without quality metrics")
        if self.drift is None:
            return
        if not (s.endpoint_name and s.variant):
            log.warning(
                "cloudwatch emf without INFERSTACK_ENDPOINT_NAME or INFERSTACK_VARIANT; "
                "their dimensions say unknown"
            )
        try:
            self.emitter = DriftEmitter(
                self.drift.report,
                s.endpoint_name or "unknown",
                s.variant or "unknown",
                s.cloudwatch_emf_interval_s,
                properties={"model": self.name, "version": self.version},
            )
            self.emitter.start()
        except Exception:  # monitoring never breaks inference
            log.exception("cloudwatch emf setup failed; serving without it")

    def _observe(self, x: np.ndarray, parts: list[Any], metas: list[Any]) -> None:
        if self.observer is not None:
            self.observer(x, parts, metas)

    async def stop(self) -> None:
        """Finish queued work and stop the batcher."""
        if self._load_task is not None and not self._load_task.done():
            self._load_task.cancel()
        if self.emitter is not None:
            await self.emitter.stop()
        if self.quality_emitter is not None:
            await self.quality_emitter.stop()
        if self.batcher is not None:
            await self.batcher.close()
        if self._explanations is not None:
            self._explanations.close()
        if self.capture is not None:  # after the batcher: its last records are queued
            bound = min(CAPTURE_DRAIN_S, self.settings.timeout_graceful_shutdown_s)
            await asyncio.get_running_loop().run_in_executor(None, self.capture.close, bound)

    async def loaded(self) -> tuple[Batcher, ServedModel]:
        """The batcher and model; a request that arrives while the model loads waits for it.

        With several workers a health check answered by one worker says nothing of the
        others, so a request routed to one still loading waits (up to the request
        timeout) instead of failing with 503.
        """
        await self.wait_loaded(None)
        if self.batcher is None or self.model is None:
            raise ModelNotReady(self.not_ready_message())
        return self.batcher, self.model

    def submit(
        self, x: np.ndarray, route: str, request_id: str | None = None
    ) -> asyncio.Future[Any]:
        """Queue a validated batch; resolves to its outputs.

        ``request_id`` keys the captured record (when this request is sampled) and the
        outcome ``/feedback`` may later join to it; None generates one.

        A request of more rows than the batch size runs as model calls of at most that
        many rows (see ``Batcher``), and their outputs are joined in order. More rows than
        ``max_request_rows`` is a 413, whatever the transport.
        """
        if len(x) > self.settings.max_request_rows:
            raise PayloadTooLarge(
                f"request of {len(x)} rows exceeds the limit of {self.settings.max_request_rows} "
                "rows per request (INFERSTACK_MAX_REQUEST_ROWS): send it in smaller requests"
            )
        batcher = self.batcher
        if batcher is None:
            raise ModelNotReady(self.not_ready_message())
        if batcher.closed:
            raise ModelNotReady("server is shutting down")
        flags = self._check_anomalies(x)
        if self.capture is None or not self.capture.sample():
            return batcher.submit(x)
        rid = request_id or self.ids.new()

        def meta(rows: np.ndarray) -> dict[str, Any]:
            found = {"id": rid, "route": route, "x": rows}
            if flags is not None:
                found["anomalies"] = flags
            return found

        fut = batcher.submit(x, meta)
        feedback = self.feedback
        if feedback is not None:
            # Registered before the caller awaits: the prediction is joinable by the
            # time the caller has its answer (and could post an outcome).
            fut.add_done_callback(functools.partial(_remember, feedback, rid))
        return fut

    def _check_anomalies(self, x: np.ndarray) -> dict[str, Any] | None:
        """Count the request's anomalous inputs; their flag for a captured record."""
        if self.anomalies is None:
            return None
        try:
            found = self.anomalies.check(x)
            self.metrics.observe_anomalies(found)
            return found.record()
        except Exception:  # monitoring never breaks inference
            log.exception("anomaly check failed")
            return None

    def not_ready_message(self) -> str:
        """Why the model is not ready, without internals (the log has the details)."""
        if self.load_error:
            return "model failed to load; see the server log"
        return "model is loading"

    def quality(self) -> tuple[dict[str, float], int]:
        """The live quality metrics and their joined outcomes; also published to the gauges."""
        if self.feedback is None:
            return {}, 0
        values, samples = self.feedback.metrics()
        self.metrics.set_quality(values, samples)
        return values, samples

    def refresh_quality(self) -> None:
        """Publish live quality to the gauges (called on each scrape)."""
        try:
            self.quality()
        except Exception:  # monitoring never breaks inference
            log.exception("quality metrics failed")

    def refresh_drift(self) -> None:
        """Publish drift statistics to the gauges (called on each scrape)."""
        if self.drift is None:
            return
        try:
            self.metrics.set_drift_report(self.drift.report())
        except Exception:  # monitoring never breaks inference
            log.exception("drift scoring failed")


def _remember(feedback: Feedback, request_id: str, fut: asyncio.Future[Any]) -> None:
    if fut.cancelled() or fut.exception() is not None:
        return
    try:
        feedback.remember(request_id, fut.result())
    except Exception:  # monitoring never breaks inference
        log.exception("feedback bookkeeping failed")


def _samples_path(bundle_dir: Path, name: str | None) -> Path | None:
    return None if name is None else bundle_dir / name
