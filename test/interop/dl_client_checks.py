"""Drives the unchanged Descartes Labs Python client (descarteslabs 1.12.1) against an
export-task service, the way its users' scripts do, and prints what it saw as one JSON object
on stdout. It asserts nothing itself: dl-client.test.ts compares each observation with what the
service knows (its status routes, the stored files), so a check cannot pass by being skipped.

Usage: python dl_client_checks.py CONFIG.json (see dl-client.test.ts for the fields).
The client reads DESCARTESLABS_ENV, DESCARTESLABS_TOKEN and DESCARTESLABS_STORAGE_URL from the
environment the test gives it (ExportTask.log builds its own Storage() from them, as it did
against DL).
"""
import hashlib
import io
import json
import os
import sys
import time
import warnings

# The client warns that Vector is deprecated and that Python 3.11 is newer than it knows.
warnings.simplefilter("ignore")

import descarteslabs  # noqa: E402,F401  (configures the client from DESCARTESLABS_ENV)
from descarteslabs.auth import Auth  # noqa: E402
from descarteslabs.exceptions import NotFoundError, ServerError  # noqa: E402
from descarteslabs.client.services.storage import Storage  # noqa: E402
from descarteslabs.client.services.vector import Vector  # noqa: E402
from descarteslabs.vectors import FeatureCollection, properties as p  # noqa: E402
# The classes FeatureCollection.export returns and raises, where the client defines them.
from descarteslabs._dl_modules.common.tasks import ExportTask  # noqa: E402

with open(sys.argv[1], encoding="utf-8") as config_file:
    config = json.load(config_file)

# The client's own poll interval is 3 s; a class attribute, set here so the test takes
# seconds. Nothing else of the client is changed.
ExportTask.COMPLETION_POLL_INTERVAL_SECONDS = config["poll_interval_s"]

vector = Vector(url=config["vector_url"])
storage = Storage(url=config["storage_url"])
Storage.set_default_client(storage)

out = {}


def caught(fn):
    """What calling fn raised: its class, message and (for ServerError) original status."""
    try:
        value = fn()
    except Exception as error:  # noqa: BLE001 - observing whatever the client raises
        return {
            "raised": type(error).__name__,
            "module": type(error).__module__,
            "message": str(error),
            "original_status": getattr(error, "original_status", None),
        }
    return {"raised": None, "value": repr(value)}


def attributes(task):
    """Every attribute of an ExportTask that its users read, and log as text."""
    log = task.log
    return {
        "export_id": task.export_id,
        "key": task.key,
        "ready": task.ready,
        "status": task.status,
        "is_success": task.is_success,
        "peak_memory_usage": task.peak_memory_usage,
        "runtime": task.runtime,
        "exception_name": task.exception_name,
        "exception": task.exception,
        "stacktrace": task.stacktrace,
        "traceback": task.traceback,
        "failure_type": task.failure_type,
        "log_type": type(log).__name__,
        "log": None if log is None else log.decode("utf-8"),
        "result": caught(lambda: task.result),
    }


def digest(data):
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


# --- A product, as FeatureCollection(id) loads it (GET /products/{id}).
roads = FeatureCollection(config["product"], vector_client=vector)
out["product"] = {"id": roads.id, "title": roads.title}

# --- An export of a filtered product, waited for, every attribute read.
even = roads.filter(properties=(p.kind == "even")).export(config["keys"]["even"])
out["even_created"] = {"export_id": even.export_id, "key": even.key}
started = time.time()
even.get_result(wait=True, timeout=config["wait_timeout_s"])
out["even_waited_s"] = time.time() - started
out["even"] = attributes(even)

# --- The file, downloaded to a path and into a file object, and read whole via Storage.
path = os.path.join(config["download_dir"], "even.ndjson")
even.get_file(path)
with open(path, "rb") as f:
    out["even_file"] = digest(f.read())
buffer = io.BytesIO()
even.get_file(buffer)
out["even_bytesio"] = digest(buffer.getvalue())
out["even_storage_get"] = digest(storage.get(even.key))
out["exists"] = {"even": storage.exists(even.key), "missing": storage.exists("interop/no-such-file.ndjson")}
out["missing_file"] = caught(lambda: storage.get("interop/no-such-file.ndjson"))

# --- Queries built with the client's expressions: chained filters, geometry, limit.
square = {"type": "Polygon", "coordinates": [[[-0.5, -0.5], [9.5, -0.5], [9.5, 0.5], [-0.5, 0.5], [-0.5, -0.5]]]}
queried = (
    roads.filter(geometry=square)
    .filter(properties=((p.n >= 2) & (p.n < 8) & (p.kind != "odd")) | p.name.like("feature 9%") | p.n.any_of([250, 251]))
    .limit(50)
    .export(config["keys"]["queried"])
)
queried.get_result(wait=True, timeout=config["wait_timeout_s"])
queried_buffer = io.BytesIO()
queried.get_file(queried_buffer)
out["queried"] = {"export_id": queried.export_id, "status": queried.status, "lines": queried_buffer.getvalue().decode("utf-8").splitlines()}

# --- A failing export: a number bound on a string property makes the job raise.
failed = roads.filter(properties=(p.name >= 100)).export(config["keys"]["failed"])
failed.get_result(wait=True, timeout=config["wait_timeout_s"])
out["failed"] = attributes(failed)
out["failed_get_file"] = caught(lambda: failed.get_file(io.BytesIO()))

# --- Many exports, then list_exports pages through every completed one.
many = [
    roads.filter(properties=(p.n == i)).export("{}/{}.ndjson".format(config["keys"]["many_prefix"], i))
    for i in range(config["many"])
]
for task in many:
    task.get_result(wait=True, timeout=config["wait_timeout_s"])
listed = roads.list_exports()
out["many_ids"] = [task.export_id for task in many]
out["listed"] = [
    {"export_id": task.export_id, "key": task.key, "status": task.status} for task in listed
]
# A listed task has its attributes from the list (its key from `labels`): log and file follow.
listed_even = next(task for task in listed if task.export_id == even.export_id)
listed_buffer = io.BytesIO()
listed_even.get_file(listed_buffer)
out["listed_even"] = {"log": listed_even.log.decode("utf-8"), "file": digest(listed_buffer.getvalue())}

# --- A timeout: an export that runs for seconds, waited for a fraction of one (last, so
# that it is not among the listed exports and holds no job slot while the others run).
slow = FeatureCollection(config["slow_product"], vector_client=vector).filter(
    geometry=config["slow_geometry"]
).export(config["keys"]["slow"])
started = time.time()
out["slow_wait"] = caught(lambda: slow.get_result(wait=True, timeout=config["short_timeout_s"]))
out["slow_wait_s"] = time.time() - started
out["slow_no_wait"] = caught(lambda: slow.get_result(wait=False))
out["slow_ready"] = slow.ready
out["slow_export_id"] = slow.export_id

# --- Errors: an unknown product, an unknown export, the wrong token.
out["unknown_product"] = caught(lambda: FeatureCollection("no-such-product", vector_client=vector))
out["unknown_export"] = caught(lambda: ExportTask(config["product"], "no-such-export", client=vector).get_result(wait=False))
stranger = Vector(url=config["vector_url"], auth=Auth(jwt_token=config["wrong_token"]))
out["wrong_token"] = caught(lambda: FeatureCollection(config["product"], vector_client=stranger))

print(json.dumps(out))
