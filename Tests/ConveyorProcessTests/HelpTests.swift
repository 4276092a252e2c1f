import ConveyorTestSupport
import Foundation
import Testing

@Suite("Help")
struct HelpTests {
    @Test(
        "--help and help SUBCOMMAND print usage and exit 0", arguments: [["--help"], ["worker", "--help"], ["help", "enqueue"], ["-h"]])
    func help(arguments: [String]) async throws {
        let result = try await ConveyorProcess.run(arguments, redisURL: TestRedis.shared.url, namespace: uniqueNamespace("help"))
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("USAGE:"), "\(result.output)")
        #expect(!result.error.contains("CommandError"))
    }
}
