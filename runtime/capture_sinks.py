"""Where captured records are written: a local folder or an object store.

Destinations (``INFERSTACK_CAPTURE_URI``; a local folder is ``INFERSTACK_CAPTURE_DIR``):

- ``s3://BUCKET/PREFIX`` (boto3; SSE-KMS with ``INFERSTACK_CAPTURE_KMS_KEY`` when set)
- ``gs://BUCKET/PREFIX`` (google-cloud-storage)
- ``https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX`` (azure-storage-blob with
  ``DefaultAzureCredential``)

Object layout (one object per flush, never appended to)::

    PREFIX/<model>/<version>/<YYYY>/<MM>/<DD>/<HH>/<UTC timestamp>-<host>-<pid>-<seq>.jsonl.gz

The date folders are the UTC hour of the flush; ``<UTC timestamp>`` is
``YYYYMMDDTHHMMSSffffffZ``; ``<seq>`` counts this process's objects from 0. Each object is
gzip-compressed JSON lines, one record per line, of two kinds:

- ``{"kind": "prediction", "ts", "model", "version", "id", "route", "inputs", "outputs"}``
  plus ``"anomalies"`` when the request held anomalous values. ``ts`` is Unix seconds
  (UTC), ``id`` is the request id returned in the ``X-Request-Id`` header.
- ``{"kind": "feedback", "id", "outcome", "ts"}``: a ground-truth outcome posted to
  ``/feedback`` for the prediction of the same ``id`` (possibly captured by another
  replica: join across all objects under the prefix).

A local folder keeps its historical naming (plain JSON lines, appended):
``<model>-<version>-<YYYYMMDD>-<pid>.jsonl`` for predictions and
``<model>-<version>-<YYYYMMDD>-<pid>.feedback.jsonl`` for feedback, beside it.
"""

from __future__ import annotations
