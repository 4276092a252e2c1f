import Foundation

#if canImport(Glibc)
    import Glibc
#endif

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
