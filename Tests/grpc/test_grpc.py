"""The gRPC API against a real `conveyor serve`, through stubs generated from API/**/*.proto by
grpcio-tools (scripts/grpc-tests.sh starts the cluster and sets CONVEYOR_GRPC / CONVEYOR_HTTP)."""
import json
import os
import signal
import time
import urllib.error
import urllib.request
import uuid

import grpc
import pytest
from google.protobuf import timestamp_pb2

from conveyor.v1 import conveyor_pb2 as pb
from conveyor.v1 import conveyor_pb2_grpc as rpc
from grpc.health.v1 import health_pb2, health_pb2_grpc
from grpc.reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

TARGET = os.environ["CONVEYOR_GRPC"]
HTTP = os.environ["CONVEYOR_HTTP"]
ADMIN, SUBMIT, READ, SLOW = "grpc-admin-key", "grpc-submit-key", "grpc-read-key", "grpc-slow-key"


@pytest.fixture(scope="module")
def channel():
    with grpc.insecure_channel(TARGET) as channel:
        grpc.channel_ready_future(channel).result(timeout=20)
        yield channel


@pytest.fixture(scope="module")
def stub(channel):
    return rpc.ConveyorStub(channel)


def auth(key=ADMIN):
    return [("authorization", f"Bearer {key}")]


def code_of(call, *args, **kwargs):
    """The status code a call ends with (OK when it succeeds), and the error's trailing metadata."""
    try:
        call(*args, **kwargs)
        return grpc.StatusCode.OK, {}
    except grpc.RpcError as error:
        return error.code(), dict(error.trailing_metadata() or ())


def http(method, path, body=None, key=ADMIN):
    request = urllib.request.Request(HTTP + path, method=method, data=body.encode() if body is not None else None)
    request.add_header("Authorization", f"Bearer {key}")
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def eventually(condition, timeout=30.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def queue_name():
    return "q" + uuid.uuid4().hex[:12]


def test_auth_and_roles(stub):
    request = pb.EnqueueRequest(type="noop", queue=queue_name())
    assert code_of(stub.Enqueue, request)[0] == grpc.StatusCode.UNAUTHENTICATED
    assert code_of(stub.Enqueue, request, metadata=auth("not-a-key-at-all"))[0] == grpc.StatusCode.UNAUTHENTICATED
    assert code_of(stub.Enqueue, request, metadata=[("authorization", "Basic eDp5")])[0] == grpc.StatusCode.UNAUTHENTICATED
    assert code_of(stub.Enqueue, request, metadata=auth(READ))[0] == grpc.StatusCode.PERMISSION_DENIED
    assert code_of(stub.Enqueue, request, metadata=auth(SUBMIT))[0] == grpc.StatusCode.OK
    assert code_of(stub.ListQueues, pb.ListQueuesRequest(), metadata=auth(READ))[0] == grpc.StatusCode.OK
    assert code_of(stub.PauseQueue, pb.PauseQueueRequest(name="x"), metadata=auth(SUBMIT))[0] == grpc.StatusCode.PERMISSION_DENIED


def test_enqueue_runs_and_both_apis_return_the_same_bytes(stub):
    payload = '{"n":9007199254740993,"x":1.10,"z":-0,"s":"caf\\u00e9"}'
    created = stub.Enqueue(pb.EnqueueRequest(type="echo", payload_json=payload, priority=pb.PRIORITY_HIGH), metadata=auth())
    assert created.state == pb.JOB_STATE_QUEUED and not created.duplicate
    done = eventually(lambda: (lambda d: d if d.job.state == pb.JOB_STATE_SUCCEEDED else None)(
        stub.GetJob(pb.GetJobRequest(id=created.id), metadata=auth(READ))), what="the echo job to succeed")
    assert done.source == pb.JobDetail.SOURCE_REDIS
    assert done.job.payload_json == payload and done.job.result_json == payload
    assert done.job.priority == pb.PRIORITY_HIGH and done.job.attempts == 1 and done.job.finish_time.seconds > 0
    status, text = http("GET", f"/v1/jobs/{created.id}", key=READ)
    assert status == 200 and ('"payload":' + payload) in text
    # And the other way round: enqueued over REST, read over gRPC.
    raw = '{"big":12345678901234567890,"f":2.50}'
    status, text = http("POST", "/v1/jobs", '{"type":"noop","queue":"' + queue_name() + '","payload":' + raw + '}', key=SUBMIT)
    assert status == 201
    job = stub.GetJob(pb.GetJobRequest(id=json.loads(text)["id"]), metadata=auth(READ)).job
    assert job.payload_json == raw


def test_unique_keys_answer_the_existing_job(stub):
    key = uuid.uuid4().hex
    request = pb.EnqueueRequest(type="noop", queue=queue_name(), unique_key=key, delay_ms=600_000)
    first = stub.Enqueue(request, metadata=auth())
    second = stub.Enqueue(request, metadata=auth())
    assert first.state == pb.JOB_STATE_SCHEDULED and second.duplicate and second.id == first.id


def test_invalid_arguments_name_the_field(stub):
    cases = [
        (pb.EnqueueRequest(), "type"),
        (pb.EnqueueRequest(type="x", queue="bad queue!"), "queue"),
        (pb.EnqueueRequest(type="x", payload_json="{nope"), "payload_json"),
        (pb.EnqueueRequest(type="x", max_attempts=0), "max_attempts"),
        (pb.EnqueueRequest(type="x", delay_ms=5, run_time=timestamp_pb2.Timestamp(seconds=2_000_000_000)), "run_time"),
        (pb.EnqueueRequest(type="x", backoff=pb.Backoff(kind=pb.Backoff.KIND_FIXED, jitter=2)), "backoff.jitter"),
        (pb.EnqueueRequest(type="x", payload_json='{"e":1E400}'), "payload_json"),
    ]
    for request, field in cases:
        code, metadata = code_of(stub.Enqueue, request, metadata=auth())
        assert code == grpc.StatusCode.INVALID_ARGUMENT, request
        assert metadata.get("field") == field, (request, metadata)


def test_batch_is_all_or_nothing(stub):
    queue = queue_name()
    good = pb.EnqueueRequest(type="noop", queue=queue, delay_ms=600_000)
    code, metadata = code_of(stub.EnqueueBatch, pb.EnqueueBatchRequest(jobs=[good, pb.EnqueueRequest(type="noop", queue="no way")]),
                             metadata=auth())
    assert code == grpc.StatusCode.INVALID_ARGUMENT and metadata.get("field") == "jobs[1].queue"
    queues = {q.name: q for q in stub.ListQueues(pb.ListQueuesRequest(), metadata=auth()).queues}
    assert queue not in queues or queues[queue].delayed == 0
    reply = stub.EnqueueBatch(pb.EnqueueBatchRequest(jobs=[good, good, good]), metadata=auth())
    assert len(reply.ids) == 3 and len(set(reply.ids)) == 3 and list(reply.duplicates) == []
    assert code_of(stub.EnqueueBatch, pb.EnqueueBatchRequest(), metadata=auth())[0] == grpc.StatusCode.INVALID_ARGUMENT


def test_not_found_and_state_conflicts(stub):
    assert code_of(stub.GetJob, pb.GetJobRequest(id="no-such-job"), metadata=auth())[0] == grpc.StatusCode.NOT_FOUND
    assert code_of(stub.CancelJob, pb.CancelJobRequest(id="no-such-job"), metadata=auth())[0] == grpc.StatusCode.NOT_FOUND
    job = stub.Enqueue(pb.EnqueueRequest(type="noop", queue=queue_name(), delay_ms=600_000), metadata=auth())
    # A scheduled job cannot be retried; once cancelled it cannot be cancelled again.
    assert code_of(stub.RetryJob, pb.RetryJobRequest(id=job.id), metadata=auth())[0] == grpc.StatusCode.FAILED_PRECONDITION
    cancelled = stub.CancelJob(pb.CancelJobRequest(id=job.id), metadata=auth())
    assert cancelled.state == pb.JOB_STATE_CANCELLED and cancelled.previous_state == pb.JOB_STATE_SCHEDULED
    assert code_of(stub.CancelJob, pb.CancelJobRequest(id=job.id), metadata=auth())[0] == grpc.StatusCode.FAILED_PRECONDITION
    retried = stub.RetryJob(pb.RetryJobRequest(id=job.id), metadata=auth())
    assert retried.state == pb.JOB_STATE_QUEUED


def test_queues_pause_and_resume(stub):
    queue = queue_name()
    stub.Enqueue(pb.EnqueueRequest(type="noop", queue=queue, priority=pb.PRIORITY_LOW), metadata=auth())
    paused = stub.PauseQueue(pb.PauseQueueRequest(name=queue), metadata=auth())
    assert paused.paused and paused.changed
    assert not stub.PauseQueue(pb.PauseQueueRequest(name=queue), metadata=auth()).changed
    queues = {q.name: q for q in stub.ListQueues(pb.ListQueuesRequest(), metadata=auth()).queues}
    assert queues[queue].low == 1 and queues[queue].paused
    assert stub.ResumeQueue(pb.ResumeQueueRequest(name=queue), metadata=auth()).changed
    assert code_of(stub.PauseQueue, pb.PauseQueueRequest(name="bad name"), metadata=auth())[0] == grpc.StatusCode.INVALID_ARGUMENT


def test_dead_letters(stub):
    job = stub.Enqueue(pb.EnqueueRequest(type="fail", payload_json='{"times":100}', max_attempts=1), metadata=auth())
    eventually(lambda: stub.GetJob(pb.GetJobRequest(id=job.id), metadata=auth()).job.state == pb.JOB_STATE_DEAD, what="dead")
    page = stub.ListDead(pb.ListDeadRequest(page_size=1000), metadata=auth())
    dead = [j for j in page.jobs if j.id == job.id]
    assert dead and "failing on purpose" in dead[0].last_error
    results = stub.RetryDead(pb.RetryDeadRequest(ids=[job.id, "no-such-job"]), metadata=auth())
    assert results.retried == 1 and results.results[job.id] == "retried" and results.results["no-such-job"] == "notfound"
    assert code_of(stub.RetryDead, pb.RetryDeadRequest(), metadata=auth())[0] == grpc.StatusCode.INVALID_ARGUMENT
    eventually(lambda: stub.GetJob(pb.GetJobRequest(id=job.id), metadata=auth()).job.state == pb.JOB_STATE_DEAD, what="dead again")
    assert stub.DeleteDead(pb.DeleteDeadRequest(id=job.id), metadata=auth()).id == job.id
    assert code_of(stub.DeleteDead, pb.DeleteDeadRequest(id=job.id), metadata=auth())[0] == grpc.StatusCode.NOT_FOUND


def test_workers_stats_and_history(stub):
    workers = stub.ListWorkers(pb.ListWorkersRequest(), metadata=auth(READ)).workers
    assert workers and "default" in workers[0].queues and workers[0].heartbeat_time.seconds > 0
    job = stub.Enqueue(pb.EnqueueRequest(type="echo", payload_json='{"h":1}'), metadata=auth())
    listed = eventually(lambda: [j for j in stub.ListJobs(pb.ListJobsRequest(type="echo", page_size=1000), metadata=auth()).jobs_json
                                 if json.loads(j)["id"] == job.id and json.loads(j).get("state") == "succeeded"],
                        what="the job in the history")
    assert json.loads(listed[0])["payload"] == {"h": 1}
    stats = stub.GetStats(pb.GetStatsRequest(hours=2), metadata=auth(READ))
    assert stats.hours == 2 and stats.totals["enqueued"] >= 1 and stats.by_state["succeeded"] >= 1
    first = stub.ListJobs(pb.ListJobsRequest(page_size=1), metadata=auth())
    assert len(first.jobs_json) == 1 and first.next_page_token
    second = stub.ListJobs(pb.ListJobsRequest(page_size=1, page_token=first.next_page_token), metadata=auth())
    assert json.loads(second.jobs_json[0])["id"] != json.loads(first.jobs_json[0])["id"]
    assert code_of(stub.ListJobs, pb.ListJobsRequest(page_size=5000), metadata=auth())[0] == grpc.StatusCode.INVALID_ARGUMENT
    assert code_of(stub.ListJobs, pb.ListJobsRequest(page_token="x y"), metadata=auth())[0] == grpc.StatusCode.INVALID_ARGUMENT


def test_schedules(stub):
    name = "s" + uuid.uuid4().hex[:10]
    definition = pb.Schedule(name=name, expression="0 3 * * *", time_zone="Europe/Paris", type="noop",
                             misfire=pb.MISFIRE_POLICY_ONE, queue=queue_name())
    created = stub.CreateSchedule(pb.CreateScheduleRequest(schedule=definition), metadata=auth())
    assert created.name == name and len(created.next_fire_times) == 5 and created.misfire == pb.MISFIRE_POLICY_ONE
    assert code_of(stub.CreateSchedule, pb.CreateScheduleRequest(schedule=definition), metadata=auth())[0] == \
        grpc.StatusCode.ALREADY_EXISTS
    assert any(s.name == name for s in stub.ListSchedules(pb.ListSchedulesRequest(), metadata=auth(READ)).schedules)
    assert stub.PauseSchedule(pb.PauseScheduleRequest(name=name), metadata=auth()).paused
    assert not stub.ResumeSchedule(pb.ResumeScheduleRequest(name=name), metadata=auth()).paused
    run = stub.RunSchedule(pb.RunScheduleRequest(name=name), metadata=auth())
    assert stub.GetJob(pb.GetJobRequest(id=run.job_id), metadata=auth()).job.schedule == name
    definition.expression = "*/5 * * * *"
    assert stub.UpdateSchedule(pb.UpdateScheduleRequest(schedule=definition), metadata=auth()).expression == "*/5 * * * *"
    # REST shows the same schedule.
    status, text = http("GET", f"/v1/schedules/{name}", key=READ)
    assert status == 200 and json.loads(text)["expression"] == "*/5 * * * *" and json.loads(text)["tz"] == "Europe/Paris"
    bad = pb.Schedule(name=name + "x", expression="0 3 * * *", time_zone="Mars/Base", type="noop")
    code, metadata = code_of(stub.CreateSchedule, pb.CreateScheduleRequest(schedule=bad), metadata=auth())
    assert code == grpc.StatusCode.INVALID_ARGUMENT and metadata.get("field") == "schedule.time_zone"
    assert stub.DeleteSchedule(pb.DeleteScheduleRequest(name=name), metadata=auth()).name == name
    assert code_of(stub.GetSchedule, pb.GetScheduleRequest(name=name), metadata=auth())[0] == grpc.StatusCode.NOT_FOUND


def test_rate_limit_is_the_keys_budget_shared_with_rest(stub):
    # The slow key: 1/s with a burst of 3, spent by REST and gRPC alike: 12 calls alternating between
    # the two would need over 9 s to stay within it, so both see the budget run out.
    grpc_codes, rest_statuses = [], []
    for _ in range(6):
        grpc_codes.append(code_of(stub.ListQueues, pb.ListQueuesRequest(), metadata=auth(SLOW)))
        rest_statuses.append(http("GET", "/v1/queues", key=SLOW)[0])
    exhausted = [metadata for code, metadata in grpc_codes if code == grpc.StatusCode.RESOURCE_EXHAUSTED]
    assert exhausted and 429 in rest_statuses, (grpc_codes, rest_statuses)
    assert all(int(metadata["retry-after"]) >= 1 for metadata in exhausted), exhausted


def test_health_and_reflection(channel):
    health = health_pb2_grpc.HealthStub(channel)
    assert health.Check(health_pb2.HealthCheckRequest()).status == health_pb2.HealthCheckResponse.SERVING
    assert health.Check(health_pb2.HealthCheckRequest(service="conveyor.v1.Conveyor")).status == \
        health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as error:
        health.Check(health_pb2.HealthCheckRequest(service="nope"))
    assert error.value.code() == grpc.StatusCode.NOT_FOUND
    watch = health.Watch(health_pb2.HealthCheckRequest(service="conveyor.v1.Conveyor"))
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    watch.cancel()
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    questions = [
        reflection_pb2.ServerReflectionRequest(list_services=""),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="conveyor.v1.Conveyor.Enqueue"),
        reflection_pb2.ServerReflectionRequest(file_by_filename="conveyor/v1/conveyor.proto"),
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="no.Such"),
    ]
    answers = list(reflection.ServerReflectionInfo(iter(questions)))
    assert {s.name for s in answers[0].list_services_response.service} >= {"conveyor.v1.Conveyor", "grpc.health.v1.Health"}
    from google.protobuf import descriptor_pb2
    files = [descriptor_pb2.FileDescriptorProto.FromString(b) for b in answers[1].file_descriptor_response.file_descriptor_proto]
    assert files[0].name == "conveyor/v1/conveyor.proto" and "google/protobuf/timestamp.proto" in [f.name for f in files]
    assert [m.name for m in files[0].service[0].method][:2] == ["Enqueue", "EnqueueBatch"]
    assert answers[2].file_descriptor_response.file_descriptor_proto
    assert answers[3].error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0]


def test_update_a_pending_job(stub):
    job = stub.Enqueue(pb.EnqueueRequest(type="noop", queue=queue_name(), delay_ms=600_000), metadata=auth())
    changed = stub.UpdateJob(pb.UpdateJobRequest(id=job.id, priority=pb.PRIORITY_HIGH, payload_json='{"n":1.10}', max_attempts=9),
                             metadata=auth())
    assert changed.state == pb.JOB_STATE_SCHEDULED and set(changed.changed_fields) == {"priority", "payload", "max_attempts"}
    now = stub.UpdateJob(pb.UpdateJobRequest(id=job.id, delay_ms=0), metadata=auth())
    assert now.state == pb.JOB_STATE_QUEUED and now.previous_state == pb.JOB_STATE_SCHEDULED
    # REST sees the same job.
    status, text = http("GET", f"/v1/jobs/{job.id}", key=READ)
    assert status == 200 and '"payload":{"n":1.10}' in text and json.loads(text)["max_attempts"] == 9
    assert code_of(stub.UpdateJob, pb.UpdateJobRequest(id=job.id), metadata=auth())[0] == grpc.StatusCode.INVALID_ARGUMENT
    code, metadata = code_of(stub.UpdateJob, pb.UpdateJobRequest(id=job.id, max_attempts=0), metadata=auth())
    assert code == grpc.StatusCode.INVALID_ARGUMENT and metadata.get("field") == "max_attempts"
    assert code_of(stub.UpdateJob, pb.UpdateJobRequest(id="no-such-job", max_attempts=2), metadata=auth())[0] == \
        grpc.StatusCode.NOT_FOUND
    assert code_of(stub.UpdateJob, pb.UpdateJobRequest(id=job.id, max_attempts=2), metadata=auth(SUBMIT))[0] == \
        grpc.StatusCode.PERMISSION_DENIED
    done = stub.Enqueue(pb.EnqueueRequest(type="noop"), metadata=auth())
    eventually(lambda: stub.GetJob(pb.GetJobRequest(id=done.id), metadata=auth()).job.state == pb.JOB_STATE_SUCCEEDED, what="done")
    assert code_of(stub.UpdateJob, pb.UpdateJobRequest(id=done.id, max_attempts=2), metadata=auth())[0] == \
        grpc.StatusCode.FAILED_PRECONDITION


def collect(stream, count, timeout=30.0):
    """The first `count` messages of a server stream, read on a thread (so the test cannot hang)."""
    import threading
    got, done = [], threading.Event()

    def read():
        try:
            for message in stream:
                got.append(message)
                if len(got) >= count:
                    break
        except grpc.RpcError:
            pass
        done.set()

    threading.Thread(target=read, daemon=True).start()
    done.wait(timeout)
    stream.cancel()
    return got


def test_watch_events_filters_and_resumes(stub):
    queue = "grpc"  # served by the test's worker, and used by no other test
    live = stub.WatchEvents(pb.WatchEventsRequest(kinds=["job"], queue=queue), metadata=auth(READ))
    time.sleep(0.5)
    ids = [stub.Enqueue(pb.EnqueueRequest(type="noop", queue=queue), metadata=auth()).id for _ in range(3)]
    stub.Enqueue(pb.EnqueueRequest(type="noop", queue=queue_name()), metadata=auth())  # another queue: filtered out
    # enqueued + started + succeeded for each job.
    events = [e.job for e in collect(live, 9)]
    assert len(events) == 9 and {e.id for e in events} == set(ids) and all(e.queue == queue for e in events)
    assert [e.event for e in events if e.id == ids[0]] == ["enqueued", "started", "succeeded"]
    assert all(e.seq and e.time.seconds > 0 for e in events)
    # Resume after the first: exactly the rest, in order, no duplicate.
    again = collect(stub.WatchEvents(pb.WatchEventsRequest(kinds=["job"], queue=queue, since=events[0].seq), metadata=auth(READ)), 8)
    assert [e.job.seq for e in again] == [e.seq for e in events[1:]]
    # Filters: one job, one state.
    one = collect(stub.WatchEvents(pb.WatchEventsRequest(job=ids[1], states=[pb.JOB_STATE_SUCCEEDED], since="0-0"),
                                   metadata=auth(READ)), 1)
    assert one and one[0].job.id == ids[1] and one[0].job.event == "succeeded"
    stats = collect(stub.WatchEvents(pb.WatchEventsRequest(kinds=["stats"]), metadata=auth(READ)), 1, timeout=5)
    assert stats and stats[0].WhichOneof("kind") == "stats" and stats[0].stats.workers_online >= 1
    bad = stub.WatchEvents(pb.WatchEventsRequest(kinds=["nope"]), metadata=auth(READ))
    with pytest.raises(grpc.RpcError) as error:
        next(bad)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as error:
        next(stub.WatchEvents(pb.WatchEventsRequest(), metadata=auth("no-such-key-here")))
    assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_a_reader_that_never_reads_does_not_stall_the_server(stub):
    never = stub.WatchEvents(pb.WatchEventsRequest(kinds=["job"]), metadata=auth(READ))
    queue = "grpc"
    for _ in range(4):
        stub.EnqueueBatch(pb.EnqueueBatchRequest(jobs=[pb.EnqueueRequest(type="noop", queue=queue) for _ in range(500)]),
                          metadata=auth())
    start = time.time()
    status, _ = http("GET", "/v1/queues", key=READ)
    assert status == 200 and time.time() - start < 5
    eventually(lambda: {q.name: q for q in stub.ListQueues(pb.ListQueuesRequest(), metadata=auth()).queues}
               .get(queue, pb.Queue(high=1)).normal == 0, timeout=60, what="the 2,000 jobs to run")
    never.cancel()


def test_unavailable_while_redis_is_down():
    """A second server (started by scripts/grpc-tests.sh on a Redis of its own): once its Redis is
    killed, calls end with UNAVAILABLE naming Redis, and the server stays up."""
    target, pid = os.environ["CONVEYOR_GRPC_REDIS_DOWN"], int(os.environ["CONVEYOR_REDIS_DOWN_PID"])
    with grpc.insecure_channel(target) as channel:
        grpc.channel_ready_future(channel).result(timeout=20)
        down = rpc.ConveyorStub(channel)
        request = pb.EnqueueRequest(type="echo", payload_json="{}")
        assert down.Enqueue(request, timeout=10).id
        os.kill(pid, signal.SIGKILL)
        for call, argument in ((down.Enqueue, request), (down.GetStats, pb.GetStatsRequest())):
            with pytest.raises(grpc.RpcError) as error:
                call(argument, timeout=30)
            assert error.value.code() == grpc.StatusCode.UNAVAILABLE, error.value
            assert "redis" in error.value.details().lower(), error.value.details()
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert health.status == health_pb2.HealthCheckResponse.NOT_SERVING
