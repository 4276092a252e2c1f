import ArgumentParser
import Conveyor
import ConveyorHistory
import ConveyorServer
import Foundation
import Logging

/// `conveyor history`: copies the event stream into MongoDB (`CONVEYOR_MONGO_URL`) until SIGTERM/SIGINT.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "Write job history to MongoDB (CONVEYOR_MONGO_URL, CONVEYOR_HISTORY_TTL) until SIGTERM/SIGINT.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var health: HealthFlags

    func run() async throws {
        let logger = Logger(label: "conveyor.history")
        let options: HistoryWriterOptions
        do { options = try HistoryWriterOptions.fromEnvironment(global.environment) } catch let error as ConveyorError {
            throw ConveyorError(.invalidArgument, "CONVEYOR_HISTORY_TTL / CONVEYOR_HISTORY_CLAIM_IDLE: \(error.message)")
        }
        let mongo: MongoClient
        do { mongo = try MongoClient(configuration: .fromEnvironment(global.environment), logger: logger) } catch let error as HistoryError
        {
            throw ConveyorError(.invalidArgument, "CONVEYOR_MONGO_URL: \(error.message)")
        }
        let broker = try global.broker(poolSize: 1, label: "conveyor.history")
        defer { broker.shutdown() }
        try await connect(broker, logger: logger)
        let writer = HistoryWriter(broker: broker, mongo: mongo, options: options, logger: logger)
        var checks = [HealthFlags.redis(broker)]
        var probeClient: MongoClient?
        if health.port != 0 {
            // Probes get a client of their own with a 2 s server selection: a ping while MongoDB is
            // away must not hold one of the writer's threads for the default 30 s.
            var configuration = apiMongoConfiguration(global.environment)
            configuration.threads = 1
            let client = try MongoClient(configuration: configuration, logger: logger)
            probeClient = client
            checks.append(HealthServer.Check(name: "mongodb") { try await client.ping() })
        }
        try await runServices([writer] + health.services(checks, logger: logger), logger: logger)
        await probeClient?.close()
        await mongo.close()
    }
}
