import Conveyor
import ConveyorTestSupport
import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The metric families a `/metrics` text declares (`# TYPE name type`), with the sample names each
/// allows (a histogram's `_bucket`, `_sum`, `_count`).
private func sampleNames(_ text: String) -> Set<String> {
    var names: Set<String> = []
    for line in text.split(separator: "\n") where line.hasPrefix("# TYPE ") {
        let words = line.split(separator: " ")
        guard words.count >= 4 else { continue }
        let name = String(words[2])
        names.insert(name)
        if words[3] == "histogram" || words[3] == "summary" {
            for suffix in ["_bucket", "_sum", "_count"] { names.insert(name + suffix) }
        }
    }
    return names
}

/// Every `conveyor_…` metric name a dashboard or rule file mentions.
private func mentionedNames(_ text: String) -> Set<String> {
    Set(text.matches(of: /conveyor_[a-z0-9_]+/).map { String($0.output) })
}

@Suite("Grafana dashboard and alert rules: metric names")
struct MetricNamesTests {
    @Test("every metric deploy/grafana/conveyor.json and deploy/prometheus/alerts.yml use is one a real serve's /metrics exports")
    func namesExist() async throws {
        let cluster = try Cluster(environment: [
            "CONVEYOR_MONGO_URL": "mongodb://127.0.0.1:\(try freePort())/unused?serverSelectionTimeoutMS=500"
        ])
        defer { cluster.close() }
        // Work of every kind, so the families the scripts count have series: a success, a failure that dies.
        _ = try await cluster.enqueueOne("echo")
        let dying = try await cluster.enqueueOne("fail", ["--payload", #"{"times":5}"#, "--max-attempts", "1"])
        _ = try cluster.worker()
        try await cluster.waitForJob(dying, "dead") { $0.state == .dead }
        let port = try freePort()
        let serve = try cluster.start(["serve", "--no-auth", "--port", String(port), "--grpc-port", "0"])
        try await eventually(timeout: 30, "serve did not start: \(serve.errorOutput.suffix(2_000))") {
            serve.output.contains("listening on")
        }
        // This process's figures and the cluster's: Prometheus scrapes both.
        var exported: Set<String> = []
        for path in ["/metrics", "/metrics/cluster"] {
            let url = URL(string: "http://127.0.0.1:\(port)\(path)")!
            _ = try await URLSession.shared.data(from: url)
            let (data, _) = try await URLSession.shared.data(from: url)
            exported.formUnion(sampleNames(String(decoding: data, as: UTF8.self)))
        }
        #expect(exported.contains("conveyor_queue_depth"), "\(exported.sorted())")

        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for file in ["deploy/grafana/conveyor.json", "deploy/prometheus/alerts.yml"] {
            let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            let used = mentionedNames(text)
            #expect(!used.isEmpty, "\(file) names no conveyor_ metric")
            let unknown = used.subtracting(exported).sorted()
            #expect(
                unknown.isEmpty,
                "\(file) uses metrics /metrics and /metrics/cluster do not export: \(unknown); exported: \(exported.sorted())")
        }
    }
}
