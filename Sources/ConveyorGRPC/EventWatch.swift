import Conveyor
import ConveyorServer
import Foundation
import GRPCCore
import SwiftProtobuf

/// `WatchEvents` on the server's event feed: the same filters, replay from `since`, bounded buffer
/// and `gap` messages as the WebSocket `GET /v1/events` (it relays the same messages through
/// `ConveyorAPI.relayEvents`), as protobuf `Event`s. A reader that stays too slow ends with
/// RESOURCE_EXHAUSTED; a server shutting down ends the stream with UNAVAILABLE.
public struct EventWatch: EventWatching {
    let api: ConveyorAPI
    let stop: StreamStop

    public init(api: ConveyorAPI, stop: StreamStop = StreamStop()) {
        self.api = api
        self.stop = stop
    }

    public func watch(_ request: Conveyor_V1_WatchEventsRequest, into writer: RPCWriter<Conveyor_V1_Event>) async throws {
        let filter = try Self.filter(request)
        let shuttingDown = RPCError(code: .unavailable, message: "the server is shutting down; resume with since")
        try await stop.run(shuttingDown) { [api] in
            let end = await api.relayEvents(filter: filter) { text in
                if let event = Self.event(fromJSON: text) { try await writer.write(event) }
            }
            switch end {
            case .tooSlow: throw RPCError(code: .resourceExhausted, message: "this reader stayed too slow; resume with since")
            case .shutdown: throw shuttingDown
            case .writerFailed: return
            }
        }
    }

    /// The feed's filter, checked by the WebSocket query's rules (errors name the field).
    static func filter(_ request: Conveyor_V1_WatchEventsRequest) throws(RPCError) -> EventFilter {
        var query: [(name: String, value: String)] = []
        if !request.kinds.isEmpty { query.append(("kinds", request.kinds.joined(separator: ","))) }
        if !request.queue.isEmpty { query.append(("queue", request.queue)) }
        if !request.type.isEmpty { query.append(("type", request.type)) }
        if !request.job.isEmpty { query.append(("job", request.job)) }
        if !request.states.isEmpty {
            var names: [String] = []
            for state in request.states {
                guard let model = try state.model(field: "states") else { throw .invalid("states", "'states' holds JOB_STATE_UNSPECIFIED") }
                names.append(model.rawValue)
            }
            query.append(("states", names.joined(separator: ",")))
        }
        if !request.since.isEmpty { query.append(("since", request.since)) }
        do { return try EventFilter(query: query) } catch { throw RPCError(error) }
    }

    /// A feed message (JSON text: `kind` job, stats or gap) as a protobuf `Event`; nil for another kind.
    static func event(fromJSON text: String) -> Conveyor_V1_Event? {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else { return nil }
        func string(_ key: String) -> String { object[key] as? String ?? "" }
        func int(_ key: String) -> Int64 { (object[key] as? NSNumber)?.int64Value ?? 0 }
        switch object["kind"] as? String {
        case "job":
            return .with { event in
                event.job = .with {
                    $0.seq = string("seq")
                    $0.id = string("id")
                    $0.type = string("type")
                    $0.queue = string("queue")
                    $0.priority = JobPriority(rawValue: string("priority")).map(Conveyor_V1_Priority.init) ?? .unspecified
                    $0.state = Conveyor_V1_JobState(JobState(rawValue: string("state")))
                    $0.event = string("event")
                    $0.attempt = Int32(clamping: int("attempt"))
                    $0.worker = string("worker")
                    $0.error = string("error")
                    if let at = RFC3339.date(string("at")) { $0.time = .init(date: at) }
                }
            }
        case "stats":
            return .with { event in
                event.stats = .with { stats in
                    let queues = object["queues"] as? [String: [String: Any]] ?? [:]
                    stats.queues = queues.sorted { $0.key < $1.key }.map { name, queue in
                        .with {
                            $0.name = name
                            $0.high = (queue["high"] as? NSNumber)?.int64Value ?? 0
                            $0.normal = (queue["normal"] as? NSNumber)?.int64Value ?? 0
                            $0.low = (queue["low"] as? NSNumber)?.int64Value ?? 0
                            $0.delayed = (queue["delayed"] as? NSNumber)?.int64Value ?? 0
                            $0.running = (queue["running"] as? NSNumber)?.int64Value ?? 0
                            $0.dead = (queue["dead"] as? NSNumber)?.int64Value ?? 0
                            $0.paused = queue["paused"] as? Bool ?? false
                        }
                    }
                    stats.delayed = int("delayed")
                    stats.running = int("running")
                    stats.dead = int("dead")
                    stats.succeededPerSecond = (object["succeeded_per_second"] as? NSNumber)?.doubleValue ?? 0
                    stats.failedPerSecond = (object["failed_per_second"] as? NSNumber)?.doubleValue ?? 0
                    stats.workersOnline = Int32(clamping: int("workers_online"))
                }
            }
        case "gap":
            return .with { event in
                event.gap = .with {
                    $0.missed = int("missed")
                    $0.resume = string("resume")
                }
            }
        default:
            return nil
        }
    }
}
