import Foundation
import GRPCCore
import SwiftProtobuf

/// The standard server reflection service (`grpc.reflection.v1alpha`), so grpcurl-style tools can
/// list and describe the API without the .proto files: `list_services`, `file_by_filename` and
/// `file_containing_symbol` (services, methods, messages, fields' enums), answered from the
/// descriptor set `scripts/proto.sh` embeds. Each answer carries the file and its imports. Written
/// here because grpc-swift's reflection service lives in grpc-swift-extras, which is not among the
/// packages this project may use.
public struct ReflectionService: Grpc_Reflection_V1alpha_ServerReflection.SimpleServiceProtocol {
    /// Serialised FileDescriptorProtos by file name.
    let files: [String: Data]
    /// Import lists by file name.
    let dependencies: [String: [String]]
    /// The file defining each fully qualified symbol.
    let symbols: [String: String]
    /// The services this server offers.
    let services: [String]

    public init(services: [String]) throws {
        let data = Data(base64Encoded: ProtoDescriptors.fileDescriptorSetBase64) ?? Data()
        let set = try Google_Protobuf_FileDescriptorSet(serializedBytes: data)
        var files: [String: Data] = [:]
        var dependencies: [String: [String]] = [:]
        var symbols: [String: String] = [:]
        for file in set.file {
            files[file.name] = try file.serializedData()
            dependencies[file.name] = file.dependency
            let prefix = file.package.isEmpty ? "" : file.package + "."
            func add(messages: [Google_Protobuf_DescriptorProto], scope: String) {
                for message in messages {
                    let name = scope + message.name
                    symbols[name] = file.name
                    for enumeration in message.enumType { symbols[name + "." + enumeration.name] = file.name }
                    add(messages: message.nestedType, scope: name + ".")
                }
            }
            add(messages: file.messageType, scope: prefix)
            for enumeration in file.enumType { symbols[prefix + enumeration.name] = file.name }
            for service in file.service {
                symbols[prefix + service.name] = file.name
                for method in service.method { symbols[prefix + service.name + "." + method.name] = file.name }
            }
        }
        self.files = files
        self.dependencies = dependencies
        self.symbols = symbols
        self.services = services
    }

    /// `name` and every file it imports, transitively, each once (the file first).
    func closure(of name: String) -> [Data] {
        var seen: Set<String> = []
        var order: [String] = []
        func visit(_ file: String) {
            guard !seen.contains(file), files[file] != nil else { return }
            seen.insert(file)
            order.append(file)
            for dependency in dependencies[file] ?? [] { visit(dependency) }
        }
        visit(name)
        return order.compactMap { files[$0] }
    }

    func answer(_ request: Grpc_Reflection_V1alpha_ServerReflectionRequest) -> Grpc_Reflection_V1alpha_ServerReflectionResponse {
        var response = Grpc_Reflection_V1alpha_ServerReflectionResponse()
        response.validHost = request.host
        response.originalRequest = request
        func notFound(_ message: String) {
            response.errorResponse = .with {
                $0.errorCode = Int32(RPCError.Code.notFound.rawValue)
                $0.errorMessage = message
            }
        }
        switch request.messageRequest {
        case .listServices:
            response.listServicesResponse = .with { list in list.service = services.map { name in .with { $0.name = name } } }
        case .fileByFilename(let name):
            if files[name] != nil {
                response.fileDescriptorResponse = .with { $0.fileDescriptorProto = closure(of: name) }
            } else {
                notFound("no file '\(name)'")
            }
        case .fileContainingSymbol(let symbol):
            let trimmed = symbol.hasPrefix(".") ? String(symbol.dropFirst()) : symbol
            if let file = symbols[trimmed] {
                response.fileDescriptorResponse = .with { $0.fileDescriptorProto = closure(of: file) }
            } else {
                notFound("no symbol '\(symbol)'")
            }
        case .fileContainingExtension(let request):
            notFound("no extension \(request.extensionNumber) of '\(request.containingType)' (this API defines none)")
        case .allExtensionNumbersOfType(let type):
            if symbols[type] != nil {
                response.allExtensionNumbersResponse = .with { $0.baseTypeName = type }
            } else {
                notFound("no type '\(type)'")
            }
        case nil:
            response.errorResponse = .with {
                $0.errorCode = Int32(RPCError.Code.invalidArgument.rawValue)
                $0.errorMessage = "the request names no question"
            }
        }
        return response
    }

    public func serverReflectionInfo(
        request: RPCAsyncSequence<Grpc_Reflection_V1alpha_ServerReflectionRequest, any Error>,
        response: RPCWriter<Grpc_Reflection_V1alpha_ServerReflectionResponse>, context: ServerContext
    ) async throws {
        for try await question in request { try await response.write(answer(question)) }
    }
}
