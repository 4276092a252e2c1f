import Conveyor
import ConveyorHistory
import Foundation
import RedisClient

extension ConveyorAPI {
    /// `/metrics`: this process's own figures (HTTP requests by route and status, latency, rate-limit
    /// rejections), from its swift-prometheus registry. Sum them over replicas.
    func processMetricsText() -> String { metrics.registry.emitToString() }

    /// `/metrics/cluster`: the cluster's figures, read from Redis at scrape time: queue depths,
    /// delayed, running and dead jobs, job totals by outcome, the scripts' counters and histograms by
    /// queue and type, and the history writer's lag. Every replica answers the same, so scrape this
    /// once (through a load balancer or one replica), not from each replica: then a `sum` never
    /// multiplies it by the number of replicas.
    func clusterMetricsText() async throws -> String {
        var text = ""
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
            ("conveyor_delayed_jobs", "Jobs waiting for their run time or retry backoff.", \QueueCounts.delayed),
            ("conveyor_running_jobs", "Jobs running now.", \QueueCounts.running),
            ("conveyor_dead_jobs", "Jobs in the dead-letter set.", \QueueCounts.dead),
        ] {
            family(name, "gauge", help + " By queue.")
            for (queue, count) in counts.sorted(by: { $0.key < $1.key }) { sample(name, [("queue", queue)], count[keyPath: keyPath]) }
        }
        family("conveyor_jobs_total", "counter", "Job transitions since the namespace was created, by outcome.")
        for outcome in ["enqueued", "succeeded", "failed", "retried", "dead", "cancelled", "stalled"] {
            sample("conveyor_jobs_total", [("outcome", outcome)], stats.totals[outcome] ?? 0)
        }
        appendJobMetrics(try await broker.pool.command("HGETALL", broker.keys.prefix + "metrics").fieldMap ?? [:], to: &text)
        let stream = try await broker.eventStreamStatus()
        family("conveyor_event_stream_length", "gauge", "Entries in the event stream.")
        sample("conveyor_event_stream_length", [], stream.length)
        family("conveyor_history_lag_events", "gauge", "Events the history writer has not read yet (-1 when unknown).")
        // No stream yet: nothing to write, so no lag; a stream without a writer's group: all of it.
        let lag = stream.historyLag ?? (stream.historyGroupExists ? -1 : stream.length)
        sample("conveyor_history_lag_events", [], lag)
        family("conveyor_history_pending_events", "gauge", "Events the history writers read and have not written yet.")
        sample("conveyor_history_pending_events", [], stream.historyPending)
        family("conveyor_history_errors_total", "counter", "Events MongoDB refused, kept in the history_errors collection instead.")
        let refused = try await broker.pool.command("HGET", broker.keys.stats, HistoryWriter.refusedStatsField).string
        sample("conveyor_history_errors_total", [], refused.flatMap { Int($0) } ?? 0)
        try await appendLivenessMetrics(to: &text)
        return text
    }

    /// The bucket bounds (ms) of the job histograms, as `Lua/includes/common.lua` counts them.
    static let metricBuckets = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000]

    /// Renders the scripts' counters and histograms from the `{ns}:metrics` hash: jobs enqueued,
    /// succeeded, failed (attempts) and dead by queue and type; execution time and enqueue-to-start
    /// latency histograms (seconds) by queue and type.
    func appendJobMetrics(_ fields: [String: String], to text: inout String) {
        struct Series: Hashable, Comparable {
            var name: String
            var queue: String
            var type: String
            static func < (a: Series, b: Series) -> Bool { (a.name, a.queue, a.type) < (b.name, b.queue, b.type) }
        }
        var counters: [Series: Int] = [:]
        var buckets: [Series: [Int]] = [:]
        var sums: [Series: Int] = [:]
        for (field, value) in fields {
            let parts = field.split(separator: "\u{1F}", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 4, let number = Int(value) else { continue }
            let series = Series(name: parts[1], queue: parts[2], type: parts[3])
            switch parts[0] {
            case "c" where parts.count == 4: counters[series] = number
            case "s" where parts.count == 4: sums[series] = number
            case "h" where parts.count == 5:
                guard let bucket = Int(parts[4]), (1...Self.metricBuckets.count + 1).contains(bucket) else { continue }
                buckets[series, default: Array(repeating: 0, count: Self.metricBuckets.count + 1)][bucket - 1] = number
            default: continue
            }
        }
        func labels(_ series: Series) -> String {
            "queue=\"\(Self.escapeLabel(series.queue))\",type=\"\(Self.escapeLabel(series.type))\""
        }
        for (name, help) in [
            ("enqueued", "Jobs enqueued"), ("succeeded", "Jobs that succeeded"), ("failed", "Failed attempts"),
            ("dead", "Jobs moved to the dead-letter set"),
        ] {
            let metric = "conveyor_jobs_\(name)_total"
            text += "# HELP \(metric) \(help), by queue and type.\n# TYPE \(metric) counter\n"
            for series in counters.keys.filter({ $0.name == name }).sorted() {
                text += "\(metric){\(labels(series))} \(counters[series]!)\n"
            }
        }
        for (name, metric, help) in [
            ("run", "conveyor_job_duration_seconds", "Execution time of attempts (succeeded or failed), by queue and type."),
            ("wait", "conveyor_job_wait_seconds", "Time from enqueue (or promotion) to start, by queue and type."),
        ] {
            text += "# HELP \(metric) \(help)\n# TYPE \(metric) histogram\n"
            for series in buckets.keys.filter({ $0.name == name }).sorted() {
                let counts = buckets[series]!
                var cumulative = 0
                for (index, count) in counts.enumerated() {
                    cumulative += count
                    let bound = index < Self.metricBuckets.count ? String(Double(Self.metricBuckets[index]) / 1_000) : "+Inf"
                    text += "\(metric)_bucket{\(labels(series)),le=\"\(bound)\"} \(cumulative)\n"
                }
                text += "\(metric)_sum{\(labels(series))} \(Double(sums[series] ?? 0) / 1_000)\n"
                text += "\(metric)_count{\(labels(series))} \(cumulative)\n"
            }
        }
    }

    static func escapeLabel(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(
            of: "\n", with: "\\n")
    }
}
