# Generates Sources/ConveyorServer/OpenAPIDocument.swift, the OpenAPI 3.1 document of the REST API.
# Run: python3 scripts/openapi.py Sources/ConveyorServer/OpenAPIDocument.swift (make openapi).
import json, sys

def ref(name): return {"$ref": f"#/components/schemas/{name}"}
def problem(desc): return {"description": desc, "content": {"application/problem+json": {"schema": ref("Problem")}}}
def ok(desc, schema, headers=None):
    r = {"description": desc, "content": {"application/json": {"schema": schema}}}
    return r
TS = {"type": "string", "format": "date-time"}
TSN = {"type": ["string", "null"], "format": "date-time"}
STATES = ["scheduled", "queued", "running", "retrying", "succeeded", "dead", "cancelled"]
rate_headers = {
    "RateLimit-Limit": {"schema": {"type": "integer"}, "description": "The burst: requests admitted at once from idle."},
    "RateLimit-Remaining": {"schema": {"type": "integer"}, "description": "Requests the caller may send right now."},
    "RateLimit-Reset": {"schema": {"type": "integer"}, "description": "Seconds until the whole burst is available again."},
}

def secured(op, role, codes):
    op["security"] = [{"bearer": []}]
    op["x-role"] = role
    r = op["responses"]
    r["401"] = problem("Missing or unknown API key.")
    r["403"] = problem(f"The key's role is below '{role}'.")
    r["429"] = {"description": "Rate limit exceeded; retry after Retry-After seconds.",
                "headers": {"Retry-After": {"schema": {"type": "integer"}}, **rate_headers},
                "content": {"application/problem+json": {"schema": ref("Problem")}}}
    r["503"] = problem("Redis or MongoDB is unavailable.")
    for c in codes:
        r[c] = problem({"400": "Bad input: the problem names the field.", "404": "Not found.", "409": "Conflict with the current state.",
                        "413": "Payload or body over the size limit."}[c])
    return op

def qp(name, schema, desc):
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": desc}
JOB_ID = "^[!-9;-z|~]{1,128}$"
NAME = "^[A-Za-z0-9_.-]{1,100}$"
def pp(name, desc):
    pattern = JOB_ID if name == "id" else NAME
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "pattern": pattern}, "description": desc}

MS = {"type": "integer", "minimum": 0, "maximum": 315360000000}
JITTER = {"type": "number", "minimum": 0, "maximum": 1, "description": "Share of each delay drawn at random."}
backoff = {"oneOf": [
    {"type": "object", "additionalProperties": False, "required": ["kind"], "properties": {"kind": {"const": "none"}},
     "description": "Retry at once."},
    {"type": "object", "additionalProperties": False, "required": ["kind"],
     "properties": {"kind": {"const": "fixed"}, "base_ms": MS, "jitter": JITTER}, "description": "The same delay before every retry."},
    {"type": "object", "additionalProperties": False,
     "properties": {"kind": {"const": "exponential"}, "base_ms": MS, "max_ms": MS, "jitter": JITTER},
     "description": "base_ms x 2^(attempt-1), capped at max_ms (the default kind)."}]}
job_fields = {
    "type": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^\\u0000-\\u001f\\u007f]*$",
             "description": "The handler to run: 1-200 characters, no control characters."},
    "payload": {"description": "Any JSON value (default {}), at most CONVEYOR_MAX_PAYLOAD bytes."},
    "queue": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,100}$", "default": "default"},
    "priority": {"type": "string", "enum": ["high", "normal", "low"], "default": "normal"},
    "max_attempts": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 3},
    "backoff": ref("Backoff"),
    "timeout_ms": {"type": "integer", "minimum": 0, "maximum": 315360000000, "description": "0 for no limit."},
}
enqueue = {"type": "object", "additionalProperties": False, "required": ["type"], "properties": {
    **job_fields,
    "delay_ms": {"type": "integer", "minimum": 0, "maximum": 315360000000},
    "run_at": {"type": "string", "format": "date-time"},
    "unique_key": {"type": "string", "minLength": 1, "maxLength": 512}},
    "not": {"required": ["delay_ms", "run_at"]},
    "description": "Only type is required; send delay_ms or run_at, not both. A run_at in the past runs now."}
job = {"type": "object", "required": ["id", "type", "queue", "priority", "state", "attempts", "max_attempts"], "properties": {
    "id": {"type": "string"}, "type": {"type": "string"}, "queue": {"type": "string"},
    "priority": {"type": "string", "enum": ["high", "normal", "low"]}, "state": {"type": "string", "enum": STATES},
    "attempts": {"type": "integer"}, "max_attempts": {"type": "integer"}, "crashes": {"type": "integer"},
    "payload": {}, "result": {}, "last_error": {"type": ["string", "null"]},
    "backoff": {"type": "object", "properties": {"kind": {"type": "string"}, "base_ms": {"type": "integer"}, "max_ms": {"type": "integer"},
                                                 "jitter": {"type": "number"}}},
    "timeout_ms": {"type": "integer"}, "unique_key": {"type": ["string", "null"]}, "worker": {"type": ["string", "null"]},
    "run_at": TSN, "created_at": TSN, "enqueued_at": TSN, "started_at": TSN, "finished_at": TSN, "updated_at": TSN,
    "schedule": {"type": "string"}, "tick": TS}}
history_job = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}, "state": {"type": "string"}},
               "description": "The job's MongoDB history document: type, queue, priority, state, payload, result, last_error, attempts (each with worker, start, end, duration and error), created/updated/finished times."}
event = {"type": "object", "required": ["_id", "event"], "properties": {"_id": {"type": "string", "description": "Stream entry id."},
         "job": {"type": "string"}, "event": {"type": "string"}, "ts": TS}}
job_detail = {"allOf": [{"type": "object", "required": ["id", "source", "timeline"], "properties": {
    "id": {"type": "string"}, "source": {"type": "string", "enum": ["redis", "history"]},
    "timeline": {"type": ["array", "null"], "items": ref("Event"), "description": "Null while MongoDB is unavailable."}}}],
    "description": "Live state from Redis (the Job fields) or, once the job left Redis, its history document."}
queue = {"type": "object", "required": ["high", "normal", "low", "delayed", "running", "dead", "paused"], "additionalProperties": False,
         "properties": {k: {"type": "integer", "minimum": 0} for k in ["high", "normal", "low", "delayed", "running", "dead"]} | {"paused": {"type": "boolean"}}}
worker = {"type": "object", "required": ["id", "host", "pid", "queues", "concurrency", "running", "heartbeat_age_ms"], "properties": {
    "id": {"type": "string"}, "host": {"type": "string"}, "pid": {"type": "integer"}, "queues": {"type": "array", "items": {"type": "string"}},
    "concurrency": {"type": "integer"}, "running": {"type": "array", "items": {"type": "string"}}, "started_at": TS, "heartbeat_at": TS,
    "heartbeat_age_ms": {"type": "integer", "minimum": 0}}}
schedule_fields = {k: v for k, v in job_fields.items()}
schedule_input = {"type": "object", "additionalProperties": False, "required": ["type", "expression"], "properties": {
    **schedule_fields,
    "expression": {"type": "string", "description": "Cron (5 fields, optional leading seconds, names, @daily…) or an interval: every 30s."},
    "tz": {"type": "string", "description": "IANA time zone of a cron expression (default UTC)."},
    "start": {"type": "string", "format": "date-time", "description": "First tick of an interval."},
    "misfire": {"type": "string", "enum": ["skip", "one", "all"], "default": "skip"},
    "no_overlap": {"type": "boolean", "default": False}}}
schedule_create = {"allOf": [schedule_input, {"type": "object", "required": ["name"], "properties": {
    "name": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,100}$"}}}]}
# allOf with additionalProperties:false on the first part would reject name: write it flat instead.
schedule_create = json.loads(json.dumps(schedule_input))
schedule_create["required"] = ["name", "type", "expression"]
schedule_create["properties"]["name"] = {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,100}$"}
schedule = {"type": "object", "required": ["name", "expression", "tz", "misfire", "no_overlap", "paused", "type", "queue", "priority", "next"],
            "properties": {
    "name": {"type": "string"}, "expression": {"type": "string"}, "tz": {"type": "string"}, "start": TSN,
    "misfire": {"type": "string", "enum": ["skip", "one", "all"]}, "no_overlap": {"type": "boolean"}, "paused": {"type": "boolean"},
    "type": {"type": "string"}, "payload": {}, "queue": {"type": "string"}, "priority": {"type": "string", "enum": ["high", "normal", "low"]},
    "max_attempts": {"type": "integer"}, "next": {"type": "array", "items": TS, "description": "The next 5 fire times."},
    "last_tick": TSN, "last_run_id": {"type": ["string", "null"]}, "last_run_state": {"type": ["string", "null"]},
    "runs": {"type": "integer"}, "skipped": {"type": "integer"}, "misfired": {"type": "integer"}}}
problem_schema = {"type": "object", "required": ["type", "title", "status", "detail"], "properties": {
    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"}, "detail": {"type": "string"},
    "field": {"type": "string", "description": "The request field at fault."},
    "checks": {"type": "object", "additionalProperties": {"type": "string"}}}}

def body(schema, required=True):
    return {"required": required, "content": {"application/json": {"schema": schema}}}

paths = {}
paths["/v1/jobs"] = {
    "post": secured({"operationId": "enqueueJob", "summary": "Enqueue one job",
        "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "minLength": 1, "maxLength": 512},
                        "description": "The job's unique key when the body has none."}],
        "requestBody": body(ref("EnqueueRequest")),
        "responses": {"201": ok("Enqueued.", ref("EnqueueResponse")), "200": ok("A job with the same unique key is unfinished: that job.", ref("EnqueueResponse"))}},
        "submit", ["400", "413"]),
    "get": secured({"operationId": "listJobs", "summary": "Jobs from the history, newest first, cursor-paged",
        "parameters": [qp("state", {"type": "string", "enum": STATES}, "Only jobs in this state."), qp("type", {"type": "string"}, "Only this type."),
                       qp("queue", {"type": "string"}, "Only this queue."), qp("since", {"type": "string", "format": "date-time"}, "Created at or after."),
                       qp("until", {"type": "string", "format": "date-time"}, "Created before."), qp("q", {"type": "string"}, "Text in the last error."),
                       qp("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}, "Page size."),
                       qp("cursor", {"type": "string", "pattern": JOB_ID}, "next_cursor of the previous page.")],
        "responses": {"200": ok("A page.", {"type": "object", "required": ["jobs", "next_cursor"], "properties": {
            "jobs": {"type": "array", "items": ref("HistoryJob")}, "next_cursor": {"type": ["string", "null"]}}})}}, "read", ["400"])}
paths["/v1/jobs/batch"] = {"post": secured({"operationId": "enqueueBatch", "summary": "Enqueue many jobs, all or nothing",
    "requestBody": body({"type": "object", "additionalProperties": False, "required": ["jobs"], "properties": {
        "jobs": {"type": "array", "minItems": 1, "maxItems": 1000, "items": ref("EnqueueRequest")}}}),
    "responses": {"201": ok("Every job enqueued (or matched by its unique key).", {"type": "object", "required": ["ids", "duplicates"], "properties": {
        "ids": {"type": "array", "items": {"type": "string"}},
        "duplicates": {"type": "array", "items": {"type": "integer"}, "description": "Indexes whose unique key matched an unfinished job."}}})}},
    "submit", ["400", "413"])}
paths["/v1/jobs/{id}"] = {"get": secured({"operationId": "getJob", "summary": "One job with its timeline", "parameters": [pp("id", "Job id.")],
    "responses": {"200": ok("The job.", ref("JobDetail"))}}, "read", ["404"])}
paths["/v1/jobs/{id}/cancel"] = {"post": secured({"operationId": "cancelJob", "summary": "Cancel an unfinished job", "parameters": [pp("id", "Job id.")],
    "responses": {"200": ok("Cancelled.", {"type": "object", "required": ["id", "state"], "properties": {
        "id": {"type": "string"}, "state": {"type": "string", "enum": ["cancelled"]}, "previous_state": {"type": ["string", "null"]}}})}}, "admin", ["404", "409"])}
paths["/v1/jobs/{id}/retry"] = {"post": secured({"operationId": "retryJob", "summary": "Put a dead or cancelled job back on its queue", "parameters": [pp("id", "Job id.")],
    "responses": {"200": ok("Queued again.", {"type": "object", "required": ["id", "state"], "properties": {
        "id": {"type": "string"}, "state": {"type": "string", "enum": ["queued"]}}})}}, "admin", ["404", "409"])}
paths["/v1/queues"] = {"get": secured({"operationId": "listQueues", "summary": "Every queue's counts",
    "responses": {"200": ok("Queues by name.", {"type": "object", "required": ["queues"], "properties": {
        "queues": {"type": "object", "additionalProperties": ref("Queue")}}})}}, "read", ["400"])}
for action in ["pause", "resume"]:
    paths[f"/v1/queues/{{name}}/{action}"] = {"post": secured({"operationId": f"{action}Queue", "summary": f"{action.capitalize()} consumption of a queue",
        "parameters": [pp("name", "Queue name.")],
        "responses": {"200": ok("Done.", {"type": "object", "required": ["queue", "paused", "changed"], "properties": {
            "queue": {"type": "string"}, "paused": {"type": "boolean"}, "changed": {"type": "boolean"}}})}}, "admin", ["400"])}
paths["/v1/dead"] = {"get": secured({"operationId": "listDead", "summary": "Dead-letter jobs, most recent first, cursor-paged",
    "parameters": [qp("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}, "Page size."), qp("cursor", {"type": "string", "pattern": "^[0-9]{1,16}:" + JOB_ID[1:]}, "next_cursor of the previous page.")],
    "responses": {"200": ok("A page.", {"type": "object", "required": ["jobs", "next_cursor"], "properties": {
        "jobs": {"type": "array", "items": ref("Job")}, "next_cursor": {"type": ["string", "null"]}}})}}, "read", ["400"])}
paths["/v1/dead/retry"] = {"post": secured({"operationId": "retryDead", "summary": "Retry dead jobs by id, or all of them",
    "requestBody": body({"oneOf": [
        {"type": "object", "additionalProperties": False, "required": ["ids"], "properties": {
            "ids": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"type": "string"}}}},
        {"type": "object", "additionalProperties": False, "required": ["all"], "properties": {"all": {"const": True}}}],
        "description": "Either ids or all: true."}),
    "responses": {"200": ok("How many went back to their queue; per id: retried, notfound, duplicate, or the state that kept it.",
        {"type": "object", "required": ["retried"], "properties": {"retried": {"type": "integer"},
         "results": {"type": "object", "additionalProperties": {"type": "string"}}}})}}, "admin", ["400", "413"])}
paths["/v1/dead/{id}"] = {"delete": secured({"operationId": "deleteDead", "summary": "Delete a dead job for good", "parameters": [pp("id", "Job id.")],
    "responses": {"200": ok("Deleted.", {"type": "object", "required": ["id", "deleted"], "properties": {"id": {"type": "string"}, "deleted": {"type": "boolean"}}})}},
    "admin", ["404"])}
paths["/v1/workers"] = {"get": secured({"operationId": "listWorkers", "summary": "Live workers",
    "responses": {"200": ok("Workers.", {"type": "object", "required": ["workers"], "properties": {"workers": {"type": "array", "items": ref("Worker")}}})}}, "read", ["400"])}
paths["/v1/stats"] = {"get": secured({"operationId": "stats", "summary": "Totals by state and type, per-minute throughput and failures (MongoDB), broker counters (Redis)",
    "parameters": [qp("hours", {"type": "integer", "minimum": 1, "maximum": 168, "default": 1}, "How far back the per-minute figures go.")],
    "responses": {"200": ok("Statistics.", {"type": "object", "required": ["by_state", "by_type", "per_minute", "broker", "hours"], "properties": {
        "by_state": {"type": "object", "additionalProperties": {"type": "integer"}}, "by_type": {"type": "object", "additionalProperties": {"type": "integer"}},
        "hours": {"type": "integer"},
        "per_minute": {"type": "array", "items": {"type": "object", "required": ["minute", "succeeded", "failed"], "properties": {
            "minute": TS, "succeeded": {"type": "integer"}, "failed": {"type": "integer"}}}},
        "broker": {"type": "object"}}})}}, "read", ["400"])}
paths["/v1/schedules"] = {
    "get": secured({"operationId": "listSchedules", "summary": "Every schedule with its next 5 fire times and last run",
        "responses": {"200": ok("Schedules.", {"type": "object", "required": ["schedules"], "properties": {"schedules": {"type": "array", "items": ref("Schedule")}}})}}, "read", ["400"]),
    "post": secured({"operationId": "createSchedule", "summary": "Create a schedule", "requestBody": body(ref("ScheduleCreate")),
        "responses": {"201": ok("Created.", ref("Schedule"))}}, "admin", ["400", "409", "413"])}
paths["/v1/schedules/{name}"] = {
    "get": secured({"operationId": "getSchedule", "summary": "One schedule", "parameters": [pp("name", "Schedule name.")],
        "responses": {"200": ok("The schedule.", ref("Schedule"))}}, "read", ["404"]),
    "put": secured({"operationId": "putSchedule", "summary": "Create or replace a schedule", "parameters": [pp("name", "Schedule name.")],
        "requestBody": body(ref("ScheduleInput")),
        "responses": {"200": ok("Replaced.", ref("Schedule")), "201": ok("Created.", ref("Schedule"))}}, "admin", ["400", "413"]),
    "delete": secured({"operationId": "deleteSchedule", "summary": "Remove a schedule", "parameters": [pp("name", "Schedule name.")],
        "responses": {"200": ok("Removed.", {"type": "object", "required": ["name", "deleted"], "properties": {"name": {"type": "string"}, "deleted": {"type": "boolean"}}})}}, "admin", ["404"])}
for action in ["pause", "resume"]:
    paths[f"/v1/schedules/{{name}}/{action}"] = {"post": secured({"operationId": f"{action}Schedule", "summary": f"{action.capitalize()} a schedule",
        "parameters": [pp("name", "Schedule name.")], "responses": {"200": ok("The schedule.", ref("Schedule"))}}, "admin", ["404"])}
paths["/v1/schedules/{name}/run"] = {"post": secured({"operationId": "runSchedule", "summary": "Enqueue the schedule's job now",
    "parameters": [pp("name", "Schedule name.")],
    "responses": {"201": ok("Enqueued.", {"type": "object", "required": ["name", "id"], "properties": {"name": {"type": "string"}, "id": {"type": "string"}}})}}, "admin", ["404"])}
paths["/healthz"] = {"get": {"operationId": "health", "summary": "The process is alive", "security": [],
    "responses": {"200": ok("Alive.", {"type": "object", "required": ["status"], "properties": {"status": {"type": "string", "enum": ["ok"]}}})}}}
paths["/readyz"] = {"get": {"operationId": "ready", "summary": "Redis and MongoDB answer", "security": [],
    "responses": {"200": ok("Ready.", {"type": "object", "required": ["status", "checks"], "properties": {"status": {"type": "string"},
        "checks": {"type": "object", "additionalProperties": {"type": "string"}}}}),
        "503": problem("Not ready: checks names the unreachable one(s).")}}}
paths["/metrics"] = {"get": {"operationId": "metrics", "summary": "Prometheus metrics", "security": [],
    "responses": {"200": {"description": "Prometheus text format 0.0.4.", "content": {"text/plain": {"schema": {"type": "string"}}}},
                  "503": problem("Redis is unavailable.")}}}
paths["/openapi.json"] = {"get": {"operationId": "openapi", "summary": "This document", "security": [],
    "responses": {"200": ok("OpenAPI 3.1.", {"type": "object"})}}}

doc = {"openapi": "3.1.0",
       "info": {"title": "Conveyor API", "version": "1.0.0",
                "description": "Enqueue and manage background jobs. Times are RFC 3339 UTC; durations are integer milliseconds (_ms). Errors are application/problem+json."},
       "servers": [{"url": "/"}],
       "security": [{"bearer": []}],
       "paths": paths,
       "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API key from CONVEYOR_API_KEYS; roles read < submit < admin."}},
                      "schemas": {"Problem": problem_schema, "Backoff": backoff, "EnqueueRequest": enqueue,
                                  "EnqueueResponse": {"type": "object", "required": ["id", "state"], "properties": {"id": {"type": "string"},
                                      "state": {"type": "string", "enum": STATES}, "duplicate": {"type": "boolean"}}},
                                  "Job": job, "HistoryJob": history_job, "Event": event, "JobDetail": job_detail, "Queue": queue, "Worker": worker,
                                  "Schedule": schedule, "ScheduleInput": schedule_input, "ScheduleCreate": schedule_create}}}
text = json.dumps(doc, indent=1, sort_keys=True)
swift = '''// swift-format-ignore-file
// Generated by scripts/openapi.py; edit that file and run `make openapi`.

/// The OpenAPI 3.1 document served at `/openapi.json`: every route, parameter, body and response.
enum OpenAPIDocument {
    static let json = #"""
''' + text + '''
"""#
}
'''
open(sys.argv[1], "w").write(swift)
