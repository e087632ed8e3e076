"""Explanations off the inference path: their own threads, a bound, metrics and audit.

Explanations never go through the model's batcher: they run in a thread pool of
``INFERSTACK_EXPLAIN_CONCURRENCY`` threads, and at most twice that many requests wait
for one (the rest wait on the event loop, within the request timeout). The explainer
(and shap) is built on the first explanation. When data capture is on, each
explanation is appended to the capture folder's ``*.explanations.jsonl`` as an audit
trail keyed by the request's id (the body's ``id``, the ``X-Request-Id`` header, or
one made here, returned in the answer).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np

from inferstack.runtime import protocols
from inferstack.runtime.errors import InferstackError, ModelNotReady
from inferstack.runtime.explain import AttributionWindow, Explainer, shares, shifts
from inferstack.runtime.settings import RuntimeSettings

if TYPE_CHECKING:
    from inferstack.runtime.service import ModelService

log = logging.getLogger("inferstack.runtime")


class ExplainService:
    """Computes ``/explain`` answers for a ``ModelService``."""

    def __init__(self, service: ModelService, settings: RuntimeSettings) -> None:
        self.service = service
        self.settings = settings
        self.pool = ThreadPoolExecutor(
            settings.explain_concurrency, thread_name_prefix="inferstack-explain"
        )
        self._slots: asyncio.Semaphore | None = None
        self._explainer: Explainer | None = None
        self._failure: InferstackError | None = None
        self._build_lock = threading.Lock()
        self._window: AttributionWindow | None = None
        self._ids = itertools.count(1)

    def explainer(self) -> Explainer:
        """The model's explainer, built once (in an explanation thread)."""
        with self._build_lock:
            if self._failure is not None:
                raise self._failure
            if self._explainer is None:
                model = self.service.model
                if model is None:
                    raise ModelNotReady(self.service.not_ready_message())
                s = self.settings
                try:
                    self._explainer = Explainer(model, s.explain_max_cost, s.explain_samples)
                except InferstackError as err:
                    self._failure = err
                    raise
                self._window = AttributionWindow(self._explainer.names, s.explain_window)
            return self._explainer

    async def explain(self, x: np.ndarray, request_id: str | None) -> dict[str, Any]:
        """The answer to an explanation request of validated rows ``x``."""
        await self.service.loaded()
        if self._slots is None:
            self._slots = asyncio.Semaphore(2 * self.settings.explain_concurrency)
        async with self._slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self.pool, functools.partial(self._explain, x, request_id)
            )

    def _explain(self, x: np.ndarray, request_id: str | None) -> dict[str, Any]:
        explainer = self.explainer()
        explainer.check_budget(len(x))
        model = explainer.model
        explanation = explainer.explain(x)
        predictions = model.run(x)
        outputs = model.manifest.output.names
        answer = {
            "id": request_id or f"{os.getpid():x}-e{next(self._ids):x}",
            "explainer": explanation.kind,
            "predictions": protocols.jsonable(predictions),
            "explanations": explanation.rows(explainer.names, list(outputs) if outputs else None),
        }
        self._observe(explanation.values)
        self._audit(answer, x)
        return answer

    def _observe(self, values: np.ndarray) -> None:
        try:  # monitoring never breaks an answer
            assert self._window is not None
            self._window.add(values)
            means = self._window.means()
            now = shares(means)
            self.service.metrics.set_attributions(means, now)
            reference = self._explainer.reference_shares if self._explainer else None
            if reference is not None:
                self.service.metrics.set_attribution_shift(shifts(now, reference))
        except Exception:
            log.exception("attribution metrics failed")

    def _audit(self, answer: dict[str, Any], x: np.ndarray) -> None:
        capture = self.service.capture
        if capture is None:
            return
        try:  # monitoring never breaks an answer
            record = {
                "ts": time.time(),
                "model": capture.model,
                "version": capture.version,
                **answer,
                "inputs": x.tolist(),
            }
            capture.write([record], capture.explanations_path)
        except Exception:
            log.exception("explanation audit write failed")

    def close(self) -> None:
        """Stop the explanation threads (running ones finish)."""
        self.pool.shutdown(wait=False, cancel_futures=True)
