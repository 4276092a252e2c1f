import Foundation
import Logging
import Synchronization

/// Finds the master through Redis Sentinel and notices failovers, for every connection of a process
/// that uses the same ``RedisSentinelConfiguration``.
///
/// `resolveMaster()` asks the sentinels in turn (`SENTINEL get-master-addr-by-name`); a connection
/// calls it each time it (re)connects, so a lost connection, `-READONLY` or `-LOADING` (after which
/// the connection drops itself) lands on the current master. A watcher thread stays subscribed to one
/// sentinel's `+switch-master` channel and advances ``epoch`` when the master moves, so idle-but-open
/// connections reconnect before their next command instead of waiting for an error. One monitor and
/// one watcher thread exist per distinct configuration, for the life of the process.
public final class RedisSentinelMonitor: Sendable {
    public let configuration: RedisSentinelConfiguration
    private let state = Mutex(RedisSentinelState())
    private let currentEpoch = Atomic<Int>(0)
    /// The sentinel that answered last: asked first next time.
    private let preferred = Atomic<Int>(0)
    private let logger = Logger(label: "conveyor.redis.sentinel")

    private static let monitors = Mutex<[RedisSentinelConfiguration: RedisSentinelMonitor]>([:])

    private init(configuration: RedisSentinelConfiguration) {
        self.configuration = configuration
    }

    /// The process's monitor for `configuration`; the first call starts its watcher thread.
    public static func shared(for configuration: RedisSentinelConfiguration) -> RedisSentinelMonitor {
        let (monitor, isNew) = monitors.withLock { monitors -> (RedisSentinelMonitor, Bool) in
            if let monitor = monitors[configuration] { return (monitor, false) }
            let monitor = RedisSentinelMonitor(configuration: configuration)
            monitors[configuration] = monitor
            return (monitor, true)
        }
        if isNew {
            let thread = Thread { monitor.watch() }
            thread.name = "redis-sentinel-watch"
            thread.stackSize = 1 << 20
            thread.start()
        }
        return monitor
    }

    /// Advances each time the master's address changes; connections compare it with the value they
    /// connected in (one atomic load, the only cost Sentinel adds to a command).
    public var epoch: Int { currentEpoch.load(ordering: .acquiring) }

    /// The master's address as last reported, nil before the first answer.
    public var knownMaster: RedisSentinelConfiguration.Address? { state.withLock { $0.master } }

    /// Asks the sentinels, in turn, for the master's address. Blocking: call it on a connection thread.
    ///
    /// - Returns: the address and the epoch that includes it.
    /// - Throws: `RedisError(.connection)` naming each sentinel's failure when none of them knows the master.
    public func resolveMaster() throws -> (address: RedisSentinelConfiguration.Address, epoch: Int) {
        let sentinels = configuration.sentinels
        let first = preferred.load(ordering: .relaxed)
        var failures: [String] = []
        for offset in 0..<sentinels.count {
            let index = (first + offset) % sentinels.count
            let connection = RedisConnection(configuration: connectionConfiguration(sentinels[index]))
            defer { connection.disconnect() }
            do {
                let reply = try connection.send(["SENTINEL", "get-master-addr-by-name", configuration.masterName].map { Array($0.utf8) })
                guard let pair = reply.array, pair.count == 2, let host = pair[0].string, let port = pair[1].int else {
                    failures.append(
                        "\(sentinels[index]): \(reply.isNull ? "does not know master \(configuration.masterName)" : "\(reply)")")
                    continue
                }
                preferred.store(index, ordering: .relaxed)
                return record(RedisSentinelConfiguration.Address(host: host, port: port))
            } catch {
                failures.append("\(sentinels[index]): \(error)")
            }
        }
        throw RedisError(
            .connection, "no sentinel gave the address of master \(configuration.masterName): \(failures.joined(separator: "; "))")
    }

    private func record(_ address: RedisSentinelConfiguration.Address) -> (address: RedisSentinelConfiguration.Address, epoch: Int) {
        let (moved, epoch) = state.withLock { state in
            let moved = state.resolved(address)
            if moved { currentEpoch.store(state.epoch, ordering: .releasing) }
            return (moved, state.epoch)
        }
        if moved { logger.notice("Redis master is now \(address) (from a sentinel)") }
        return (address, epoch)
    }

    private func connectionConfiguration(_ address: RedisSentinelConfiguration.Address) -> RedisConfiguration {
        RedisConfiguration(
            endpoint: .tcp(host: address.host, port: address.port), username: configuration.username,
            password: configuration.password, connectTimeoutMilliseconds: configuration.connectTimeoutMilliseconds,
            commandTimeoutMilliseconds: max(1_000, configuration.connectTimeoutMilliseconds))
    }

    /// The watcher thread: subscribes to `+switch-master` on one sentinel after another, for the life
    /// of the process (nothing cancels its thread). The loop tests `isCancelled` rather than being a
    /// plain `while true`: Swift 6.3's optimizer never finished compiling this function (-O) with an
    /// outer loop that has no exit, so a release build hung in RedisClient.
    private func watch() {
        var index = preferred.load(ordering: .relaxed)
        var failures = 0
        while !Thread.current.isCancelled {
            let address = configuration.sentinels[index % configuration.sentinels.count]
            let connection = RedisConnection(configuration: connectionConfiguration(address))
            do {
                _ = try connection.send(["SUBSCRIBE", "+switch-master"].map { Array($0.utf8) }).throwingServerError()
                // A switch that happened while no subscription was open is caught here.
                _ = try? resolveMaster()
                if failures > 0 { logger.info("watching sentinel \(address) for failovers") }
                failures = 0
                while true {
                    guard let message = try connection.readPush(waitingMilliseconds: 1_000) else { continue }
                    guard let parts = message.array, parts.count == 3, parts[0].string == "message", let text = parts[2].string else {
                        continue
                    }
                    let moved = state.withLock { state in
                        let moved = state.switchMaster(message: text, masterName: configuration.masterName)
                        if moved { currentEpoch.store(state.epoch, ordering: .releasing) }
                        return moved
                    }
                    if moved { logger.notice("Redis master switched (+switch-master: \(text))") }
                }
            } catch {
                connection.disconnect()
                failures += 1
                if failures == 1 || failures % 60 == 0 {
                    logger.warning(
                        "cannot watch sentinel \(address) for failovers, trying the next", metadata: ["error": .string("\(error)")])
                }
                index += 1
                Thread.sleep(forTimeInterval: min(1.0, 0.1 * Double(failures)))
            }
        }
    }
}
