import ConveyorTestSupport
import Crypto
import Foundation
import GRPCCore
import Testing

@testable import ConveyorGRPC

/// The committed generated code matches the .proto files, and every RPC has a role.
@Suite("gRPC contract")
struct GRPCContractTests {
    @Test func theGeneratedCodeIsFromTheCurrentProtoFiles() throws {
        let recorded = try String(
            contentsOf: repositoryRoot.appendingPathComponent("Sources/ConveyorGRPC/Generated/SOURCES.sha256"), encoding: .utf8)
        var lines: [String] = []
        for line in recorded.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            let path = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: " *"))
            let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("API").appendingPathComponent(path))
            let digest = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
            #expect(digest == parts[0], "API/\(path) changed since the code was generated: run `make proto`")
            lines.append(path)
        }
        // Every .proto under API/ is generated.
        let protos =
            FileManager.default.enumerator(atPath: repositoryRoot.appendingPathComponent("API").path)?
            .compactMap { $0 as? String }.filter { $0.hasSuffix(".proto") } ?? []
        #expect(Set(protos) == Set(lines))
    }

    @Test func everyMethodHasARole() {
        let methods = Set(Conveyor_V1_Conveyor.Method.descriptors.map(\.method))
        #expect(methods.count == 24)
        #expect(Set(GRPCAccess.roles.keys) == methods)
    }
}
