import ArgumentParser
import Conveyor
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `conveyor health`: a container HEALTHCHECK that needs no curl in the image. Asks a local
/// `/readyz` (the API's, or a role's `--health-port`) and exits 0 on 200, 1 otherwise.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Exit 0 when http://HOST:PORT/readyz answers 200 (port from CONVEYOR_HEALTH_PORT, default 8080); for HEALTHCHECK.")
    @Option(help: "Port of the API or of a role's --health-port (env CONVEYOR_HEALTH_PORT, default 8080).") var port: Int?
    @Option(help: "Host to ask.") var host: String = "127.0.0.1"
    @Option(help: "Path to ask: /readyz (dependencies reachable) or /healthz (process alive).") var path: String = "/readyz"
    @Option(help: "How long to wait for the answer.") var timeout: String = "3s"

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let port = port ?? Int(environment["CONVEYOR_HEALTH_PORT"] ?? "8080"), (1...65535).contains(port) else {
            throw ConveyorError(.invalidArgument, "--port / CONVEYOR_HEALTH_PORT must be a port number")
        }
        guard let url = URL(string: "http://\(host):\(port)\(path)") else { throw ConveyorError(.invalidArgument, "bad --host or --path") }
        var request = URLRequest(url: url)
        request.timeoutInterval = Double(try duration(timeout, flag: "timeout")) / 1000
        do {
            let (data, response) = try await URLSession.shared.data(for: request)
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            print("\(status) \(String(decoding: data.prefix(500), as: UTF8.self))")
            if status != 200 { throw ExitCode(1) }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            print("\(url): \(error.localizedDescription)")
            throw ExitCode(1)
        }
    }
}
