import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Synchronization

/// A Redis Sentinel setup on loopback for the failover test: one master and `replicas` replicas
/// (`redis-server`) and three `redis-sentinel` processes with quorum 2, on free ports, with their
/// files in a temp directory. `close()` kills them all.
final class SentinelGroup: Sendable {
    static let masterName = "conveyor-test"
    let directory: String
    let masterPort: Int
    let replicaPorts: [Int]
    let sentinelPorts: [Int]
    let master: ChildProcess
    let replicas: [ChildProcess]
    let sentinels: [ChildProcess]
    private let restarted = Mutex<ChildProcess?>(nil)

    /// Starts everything and waits until the replicas are in sync and every sentinel knows the
    /// replicas and the two other sentinels (a failover needs both).
    ///
    /// `downAfterMilliseconds` is 3 s, not 1: with 1 s, under the whole suite's load, two sentinels
    /// took the just-promoted master for down before their new links to it answered (+sdown 1 s
    /// after +switch-master) and failed over again, to the killed master the test had just restarted
    /// empty: the data would have been lost. (Redis's default is 30 s; see the README.)
    init(replicas replicaCount: Int = 1, downAfterMilliseconds: Int = 3_000) async throws {
        TestProcesses.install()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("conveyor-sentinel-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        masterPort = try freePort()
        replicaPorts = try (0..<replicaCount).map { _ in try freePort() }
        sentinelPorts = try (0..<3).map { _ in try freePort() }
        let directory = directory
        master = try Self.server(directory, "master", masterPort, [])
        let masterPort = masterPort
        replicas = try replicaPorts.enumerated().map { index, port in
            try Self.server(directory, "replica-\(index)", port, ["--replicaof", "127.0.0.1", String(masterPort)])
        }
        for port in replicaPorts {
            try await eventually(timeout: 15, "replica \(port) did not sync with the master") {
                let info = (try? await Self.command(port: port, ["INFO", "replication"]))?.string ?? ""
                return info.contains("master_link_status:up")
            }
        }
        var started: [ChildProcess] = []
        for (index, port) in sentinelPorts.enumerated() {
            let config = directory + "/sentinel-\(index).conf"
            let text = """
                port \(port)
                bind 127.0.0.1
                dir \(directory)
                logfile sentinel-\(index).log
                sentinel monitor \(Self.masterName) 127.0.0.1 \(masterPort) 2
                sentinel down-after-milliseconds \(Self.masterName) \(downAfterMilliseconds)
                sentinel failover-timeout \(Self.masterName) 10000
                sentinel parallel-syncs \(Self.masterName) 1

                """
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            started.append(try ChildProcess("redis-sentinel", [config]))
        }
        sentinels = started
        for port in sentinelPorts {
            try await eventually(timeout: 20, "sentinel \(port) did not discover the replica and the other sentinels") {
                let fields = (try? await Self.command(port: port, ["SENTINEL", "MASTER", Self.masterName]))?.fieldMap ?? [:]
                return fields["num-slaves"] == String(replicaCount) && fields["num-other-sentinels"] == "2"
            }
        }
    }

    private static func server(_ directory: String, _ name: String, _ port: Int, _ extra: [String]) throws -> ChildProcess {
        let path = directory + "/" + name
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return try ChildProcess(
            "redis-server",
            ["--port", String(port), "--bind", "127.0.0.1", "--dir", path, "--save", "", "--appendonly", "no", "--logfile", "redis.log"]
                + extra)
    }

    /// Starts the killed master's server again, empty, on its port, as its supervisor would: the
    /// sentinels turn it into a replica of the new master.
    func restartOldMaster() throws {
        let process = try Self.server(directory, "master", masterPort, [])
        restarted.withLock { $0 = process }
    }

    /// True once the restarted old master replicates from the master the sentinels name.
    func oldMasterIsReplica() async -> Bool {
        guard let master = try? await reportedMasterPort() else { return false }
        let info = (try? await Self.command(port: masterPort, ["INFO", "replication"]))?.string ?? ""
        return info.contains("master_port:\(master)") && info.contains("master_link_status:up")
    }

    /// `host:port,host:port,host:port` for `CONVEYOR_REDIS_SENTINELS`.
    var sentinelList: String { sentinelPorts.map { "127.0.0.1:\($0)" }.joined(separator: ",") }

    /// The environment a `conveyor` process needs to find the master through the sentinels.
    var environment: [String: String] {
        ["CONVEYOR_REDIS_SENTINELS": sentinelList, "CONVEYOR_REDIS_MASTER": Self.masterName]
    }

    /// The client configuration for in-process brokers.
    var configuration: RedisConfiguration {
        RedisConfiguration(
            sentinel: RedisSentinelConfiguration(
                sentinels: sentinelPorts.map { RedisSentinelConfiguration.Address(host: "127.0.0.1", port: $0) },
                masterName: Self.masterName))
    }

    /// The master's port as the first sentinel reports it now.
    func reportedMasterPort() async throws -> Int? {
        let reply = try await Self.command(port: sentinelPorts[0], ["SENTINEL", "get-master-addr-by-name", Self.masterName])
        return reply.array?.last?.int
    }

    func close() {
        let restarted = self.restarted.withLock { $0 }
        for process in [master] + replicas + sentinels + (restarted.map { [$0] } ?? []) where process.isRunning {
            process.signal(SIGKILL)
        }
    }

    /// One command on a fresh connection to 127.0.0.1:`port`, off the cooperative pool.
    static func command(port: Int, _ words: [String]) async throws -> RedisValue {
        try await onThread {
            let connection = RedisConnection(
                configuration: RedisConfiguration(
                    endpoint: .tcp(host: "127.0.0.1", port: port), connectTimeoutMilliseconds: 500, commandTimeoutMilliseconds: 1_000))
            defer { connection.disconnect() }
            return try connection.send(words.map { Array($0.utf8) }).throwingServerError()
        }
    }
}
