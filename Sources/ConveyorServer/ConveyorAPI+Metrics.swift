import Conveyor
import Foundation
import RedisClient

extension ConveyorAPI {
    /// `/metrics`: this process's HTTP figures (swift-prometheus), then the cluster's, read from
    /// Redis at scrape time: queue depths, delayed, running and dead jobs, job totals by outcome, and
    /// the history writer's lag. Every replica reports the same cluster figures (aggregate with max).
    func metricsText() async throws -> String {
        var text = metrics.registry.emitToString()
        let stats = try await broker.stats()
        let counts = try await broker.queueCounts()
        func family(_ name: String, _ type: String, _ help: String) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func sample(_ name: String, _ labels: [(String, String)], _ value: Int) {
            let rendered = labels.map { "\($0.0)=\"\(Self.escapeLabel($0.1))\"" }.joined(separator: ",")
            text += labels.isEmpty ? "\(name) \(value)\n" : "\(name){\(rendered)} \(value)\n"
        }
        family("conveyor_queue_depth", "gauge", "Jobs waiting in a queue's list, by priority.")
        for (queue, depth) in stats.queues.sorted(by: { $0.key < $1.key }) {
            for (priority, value) in [("high", depth.high), ("normal", depth.normal), ("low", depth.low)] {
                sample("conveyor_queue_depth", [("queue", queue), ("priority", priority)], value)
            }
        }
        family("conveyor_queue_paused", "gauge", "1 while a queue is paused.")
        for (queue, depth) in stats.queues.sorted(by: { $0.key < $1.key }) {
            sample("conveyor_queue_paused", [("queue", queue)], depth.paused ? 1 : 0)
        }
        for (name, help, keyPath) in [
            ("conveyor_jobs_delayed", "Jobs waiting for their run time or retry backoff.", \QueueCounts.delayed),
            ("conveyor_jobs_running", "Jobs running now.", \QueueCounts.running),
            ("conveyor_jobs_dead", "Jobs in the dead-letter set.", \QueueCounts.dead),
        ] {
            family(name, "gauge", help + " By queue.")
            for (queue, count) in counts.sorted(by: { $0.key < $1.key }) { sample(name, [("queue", queue)], count[keyPath: keyPath]) }
        }
        family("conveyor_jobs_total", "counter", "Job transitions since the namespace was created, by outcome.")
        for outcome in ["enqueued", "succeeded", "failed", "retried", "dead", "cancelled", "stalled"] {
            sample("conveyor_jobs_total", [("outcome", outcome)], stats.totals[outcome] ?? 0)
        }
        let stream = try await broker.pool.pipeline([["XLEN", broker.keys.events], ["XINFO", "GROUPS", broker.keys.events]])
        family("conveyor_event_stream_length", "gauge", "Entries in the event stream.")
        sample("conveyor_event_stream_length", [], stream[0].int ?? 0)
        family("conveyor_history_lag_events", "gauge", "Events the history writer has not read yet (-1 when unknown).")
        var lag = -1
        for group in stream[1].array ?? [] {
            guard let fields = group.array else { continue }
            var values: [String: RedisValue] = [:]
            for index in stride(from: 0, to: fields.count - 1, by: 2) {
                if let key = fields[index].string { values[key] = fields[index + 1] }
            }
            if values["name"]?.string == "history" { lag = values["lag"]?.int ?? -1 }
        }
        if stream[1].array == nil { lag = stream[0].int ?? 0 }
        sample("conveyor_history_lag_events", [], lag)
        return text
    }

    static func escapeLabel(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(
            of: "\n", with: "\\n")
    }
}
