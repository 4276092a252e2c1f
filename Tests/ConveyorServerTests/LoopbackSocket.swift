import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking TCP socket connected to 127.0.0.1:`port`, for the tests' raw clients; `configure` sets
/// its options before the connect (a receive buffer size must be set then). Nil when the connect
/// fails (the socket is closed).
func connectLoopback(port: Int, configure: (Int32) -> Void = { _ in }) -> Int32? {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { return nil }
    configure(descriptor)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        close(descriptor)
        return nil
    }
    return descriptor
}

/// Sets how long a read may wait on `descriptor` (SO_RCVTIMEO).
func setReceiveTimeout(_ descriptor: Int32, seconds: Double) {
    var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
    setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
}

/// A WebSocket upgrade request for `path` (RFC 6455 §4.1), with `Authorization: Bearer` when `key`
/// is given.
func upgradeRequest(path: String, key: String?) -> String {
    "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        + (key.map { "Authorization: Bearer \($0)\r\n" } ?? "") + "\r\n"
}
