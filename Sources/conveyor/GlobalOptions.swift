import ArgumentParser
import Conveyor
import Foundation
import Logging
import RedisClient

/// Options every command shares; flags override `CONVEYOR_REDIS_URL` and `CONVEYOR_NAMESPACE`.
struct GlobalOptions: ParsableArguments {
    @Option(name: .customLong("redis-url"), help: "redis://[user:pw@]host[:port][/db] or unix:///path (env CONVEYOR_REDIS_URL)")
    var redisURL: String?

    @Option(help: "Key namespace (env CONVEYOR_NAMESPACE, default conveyor)")
    var namespace: String?

    @Flag(
        name: .customLong("allow-eviction"),
        help: "Run even if Redis's maxmemory-policy is not noeviction (env CONVEYOR_ALLOW_EVICTION=1); jobs can then vanish.")
    var allowEviction = false

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    func redisConfiguration() throws -> RedisConfiguration {
        let url = redisURL ?? environment["CONVEYOR_REDIS_URL"] ?? "redis://127.0.0.1:6379"
        do {
            var configuration = try RedisConfiguration(url: url)
            configuration.sentinel = try sentinelConfiguration()
            return configuration
        } catch let error as RedisError {
            throw ConveyorError(.invalidArgument, error.message)
        }
    }

    /// `CONVEYOR_REDIS_SENTINELS=host:port,...` with `CONVEYOR_REDIS_MASTER=name` (and optionally
    /// `CONVEYOR_REDIS_SENTINEL_USERNAME` / `_PASSWORD`); nil when no sentinels are set. The Redis URL
    /// then only gives the master's password and database: its host and port are not used.
    func sentinelConfiguration() throws -> RedisSentinelConfiguration? {
        guard let list = environment["CONVEYOR_REDIS_SENTINELS"], !list.isEmpty else { return nil }
        guard let master = environment["CONVEYOR_REDIS_MASTER"], !master.isEmpty else {
            throw RedisError(.invalidURL, "CONVEYOR_REDIS_SENTINELS needs CONVEYOR_REDIS_MASTER (the name the sentinels monitor)")
        }
        return RedisSentinelConfiguration(
            sentinels: try RedisSentinelConfiguration.addresses(list), masterName: master,
            username: environment["CONVEYOR_REDIS_SENTINEL_USERNAME"].flatMap { $0.isEmpty ? nil : $0 },
            password: environment["CONVEYOR_REDIS_SENTINEL_PASSWORD"].flatMap { $0.isEmpty ? nil : $0 })
    }

    func brokerConfiguration() throws -> BrokerConfiguration {
        var configuration = try BrokerConfiguration.fromEnvironment(environment)
        if let namespace { configuration.namespace = namespace }
        if allowEviction { configuration.allowEviction = true }
        try configuration.validate()
        return configuration
    }

    /// A broker for one command; scripts are loaded on first use.
    func broker(poolSize: Int = 2, label: String = "conveyor") throws -> Broker {
        Broker(redis: try redisConfiguration(), configuration: try brokerConfiguration(), poolSize: poolSize, logger: Logger(label: label))
    }
}

/// Prints a JSON object on standard output.
func printJSON(_ object: Any, pretty: Bool = true) {
    print(JSONText.string(object, pretty: pretty))
}

/// Parses a duration flag, naming the flag in the error.
func duration(_ text: String, flag: String) throws -> Int {
    do { return try DurationParser.milliseconds(text) } catch {
        throw ConveyorError(.invalidArgument, "--\(flag): \(error.message)")
    }
}
