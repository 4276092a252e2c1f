import Conveyor
import Foundation
import Prometheus
import Synchronization

/// The API process's own metrics (HTTP requests by route and status, rate-limit rejections) in a
/// swift-prometheus registry, served at `/metrics`; the cluster-wide figures are at `/metrics/cluster`.
public final class APIMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let rateLimited: Counter
    private let durations: Mutex<[String: DurationHistogram]> = Mutex([:])
    private let counters: Mutex<[String: Counter]> = Mutex([:])

    public init() {
        rateLimited = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "conveyor", subsystem: "http", metricName: "rate_limited", unitName: "total",
                helpText: "Requests rejected by the rate limiter (429)."))
    }

    func recordRequest(method: String, route: String, status: Int, duration: Duration) {
        let labels = [("method", method), ("route", route), ("status", String(status))]
        let key = "\(method) \(route) \(status)"
        let counter = counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    namespace: "conveyor", subsystem: "http", metricName: "requests", unitName: "total",
                    helpText: "HTTP requests by route and status."),
                labels: labels)
            counters[key] = counter
            return counter
        }
        counter.increment()
        let routeKey = "\(method) \(route)"
        let histogram = durations.withLock { durations in
            if let histogram = durations[routeKey] { return histogram }
            let histogram = registry.makeDurationHistogram(
                descriptor: MetricNameDescriptor(
                    namespace: "conveyor", subsystem: "http", metricName: "request_duration", unitName: "seconds",
                    helpText: "HTTP request latency by route."),
                labels: [("method", method), ("route", route)],
                buckets: [
                    .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                    .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
                ])
            durations[routeKey] = histogram
            return histogram
        }
        histogram.record(duration)
    }
}
