import Conveyor
import ConveyorTestSupport
import Foundation
import RedisClient
import Testing

/// The client in-process, in the failover suite so that no two Sentinel setups run at once.
extension FailoverTests {
    @Test(
        "a broker configured with sentinels finds the master and follows a SENTINEL FAILOVER (old master demoted, not killed) without errors surfacing past a retry"
    )
    func followsManualFailover() async throws {
        let group = try await SentinelGroup(replicas: 1)
        defer { group.close() }
        let configuration = group.configuration
        let broker = Broker(redis: configuration, configuration: BrokerConfiguration(namespace: uniqueNamespace("sentinel")), poolSize: 2)
        defer { broker.shutdown() }
        let before = try await broker.enqueue(EnqueueRequest(type: "noop"))
        let monitor = RedisSentinelMonitor.shared(for: configuration.sentinel!)
        #expect(monitor.knownMaster?.port == group.masterPort)
        let epoch = monitor.epoch

        _ = try await SentinelGroup.command(port: group.sentinelPorts[0], ["SENTINEL", "FAILOVER", SentinelGroup.masterName])
        let started = Date()
        try await eventually(timeout: 30, "the sentinels did not fail over") {
            (try? await group.reportedMasterPort()) == group.replicaPorts[0]
        }
        // The +switch-master watcher moves the process's master before any command fails.
        try await eventually(timeout: 10, "the monitor did not follow +switch-master") {
            monitor.knownMaster?.port == group.replicaPorts[0] && monitor.epoch > epoch
        }
        var after: EnqueueResult?
        var errors = 0
        try await eventually(timeout: 15, "enqueue did not resume on the new master") {
            do { after = try await broker.enqueue(EnqueueRequest(type: "noop")) } catch { errors += 1 }
            return after != nil
        }
        print(
            String(
                format: "manual failover: writes resumed %.2f s after SENTINEL FAILOVER (%d failed attempts)",
                Date().timeIntervalSince(started), errors))
        // Both jobs are on the new master, which the broker now talks to.
        #expect(try await broker.job(before.id) != nil)
        #expect(try await broker.job(after!.id) != nil)
        let role = try await broker.pool.command("ROLE").array?.first?.string
        #expect(role == "master")
        let port = try await broker.pool.command("CONFIG", "GET", "port").array?.last?.int
        #expect(port == group.replicaPorts[0])
    }

    @Test(
        "a master demoted behind the sentinels' back answers -READONLY: the connection drops itself and fails as a connection problem, not a server error"
    )
    func readOnlyDropsTheConnection() async throws {
        let group = try await SentinelGroup(replicas: 1)
        defer { group.close() }
        let configuration = group.configuration
        let (before, after, connected) = try await onThread { () -> (RedisValue, RedisError?, Bool) in
            let connection = RedisConnection(configuration: configuration)
            let set = try connection.send([Array("SET".utf8), Array("sentinel-readonly".utf8), Array("1".utf8)])
            // Demote the master by hand (the sentinels will undo it later; this test only looks at the next write).
            let direct = RedisConnection(
                configuration: RedisConfiguration(endpoint: .tcp(host: "127.0.0.1", port: group.masterPort)))
            _ = try direct.send(["REPLICAOF", "127.0.0.1", String(group.replicaPorts[0])].map { Array($0.utf8) })
            do {
                _ = try connection.send([Array("SET".utf8), Array("sentinel-readonly".utf8), Array("2".utf8)])
                return (set, nil, connection.isConnected)
            } catch let error as RedisError {
                return (set, error, connection.isConnected)
            }
        }
        #expect(before == .status("OK"))
        #expect(!connected)
        #expect(after?.code == .connection && after?.message.contains("READONLY") == true, "\(String(describing: after))")
    }
}
