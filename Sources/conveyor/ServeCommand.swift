import ArgumentParser
import Conveyor
import ConveyorGRPC
import ConveyorHistory
import ConveyorServer
import Foundation
import Logging
import ServiceLifecycle

/// `conveyor serve`: the REST API, stateless; run as many replicas as needed.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract:
            "Serve the REST and gRPC APIs (API keys from CONVEYOR_API_KEYS or CONVEYOR_API_KEYS_FILE; CONVEYOR_RATE_LIMIT=100/s:200).")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Address to listen on.") var host: String = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free one).") var port: Int = 8080
    @Option(name: .customLong("grpc-port"), help: "Port of the gRPC API (0 turns it off).") var grpcPort: Int = 9090
    @Flag(name: .customLong("no-auth"), help: "Serve without API keys: every caller is an admin, rate-limited by address.")
    var noAuth = false
    @Option(name: .customLong("dashboard-dir"), help: "Serve the dashboard from this folder instead of the embedded copy (development).")
    var dashboardDirectory: String?

    func run() async throws {
        let logger = Logger(label: "conveyor.api")
        var configuration = try ServerConfiguration.fromEnvironment(global.environment)
        configuration.host = host
        configuration.port = port
        configuration.authRequired = !noAuth
        configuration.dashboardDirectory = dashboardDirectory
        try configuration.validate()
        let broker = try global.broker(poolSize: 8, label: "conveyor.api")
        defer { broker.shutdown() }
        let mongo = try MongoClient(configuration: apiMongoConfiguration(global.environment), logger: logger)
        try await connect(broker, logger: logger)
        let api = ConveyorAPI(broker: broker, mongo: mongo, configuration: configuration, logger: logger)
        let keys = configuration.keys.count
        let application = api.makeApplication { port in
            // One line on standard output that scripts (and tests) can wait for.
            let line = "conveyor api listening on http://\(host):\(port)\(noAuth ? " (no auth)" : " (\(keys) API keys)")\n"
            FileHandle.standardOutput.write(Data(line.utf8))
        }
        var services: [any Service] = [application]
        if grpcPort != 0 {
            services.append(
                try ConveyorGRPCServer(api: api, host: host, port: grpcPort, logger: logger) { port in
                    FileHandle.standardOutput.write(Data("conveyor grpc listening on \(host):\(port)\n".utf8))
                })
        }
        try await runServices(services, logger: logger)
        await mongo.close()
    }
}

/// The MongoDB settings of an API process: those of the environment, with a 2 s server-selection
/// timeout unless the URL sets one, so a request fails fast (503) while MongoDB is away.
func apiMongoConfiguration(_ environment: [String: String]) -> MongoConfiguration {
    var configuration = MongoConfiguration.fromEnvironment(environment)
    if !configuration.url.lowercased().contains("serverselectiontimeoutms") {
        configuration.url += (configuration.url.contains("?") ? "&" : "?") + "serverSelectionTimeoutMS=2000"
    }
    return configuration
}
