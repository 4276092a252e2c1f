import Conveyor
import Foundation
import Testing

@Suite("ChildProcess: what a child starts with")
struct ChildProcessTests {
    /// SwiftNIO's and hiredis's sockets are not close-on-exec. A child that inherited one would hold
    /// the connection open after this process closes it (no FIN reaches the peer) and keep a listening
    /// port bound after its server stopped: `conveyor dev`'s redis-server would hold the API's sockets.
    @Test("a child inherits no descriptor but stdin, stdout and stderr, not even a socket that is not close-on-exec")
    func inheritsOnlyTheStandardDescriptors() async throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(descriptor > 2)
        defer { close(descriptor) }
        #expect(fcntl(descriptor, F_GETFD) & FD_CLOEXEC == 0)
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("child-fds-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        // The shell's own descriptors, as the kernel lists them (`; :` keeps the shell from exec'ing
        // ls in its place, which would list ls's own directory handle).
        let child = try ChildProcess("sh", ["-c", "ls /proc/$$/fd; :"], stdout: output)
        #expect(await child.waitForExit(timeout: 30) == 0)
        let listed = try String(contentsOfFile: output, encoding: .utf8).split(whereSeparator: \.isNewline).map(String.init)
        #expect(listed.sorted() == ["0", "1", "2"], "the child had descriptors \(listed); this process's socket is \(descriptor)")
    }

    @Test("a child stays in this process group, or with ownProcessGroup leads one of its own")
    func processGroups() async throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("child-pgid-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        for own in [false, true] {
            try? FileManager.default.removeItem(atPath: output)
            // The shell prints its pid and process group (field 5 of /proc/self/stat, after the name).
            let child = try ChildProcess(
                "sh", ["-c", "echo $$ $(cut -d' ' -f5 /proc/$$/stat); :"], stdout: output, ownProcessGroup: own)
            #expect(await child.waitForExit(timeout: 30) == 0)
            let fields = try String(contentsOfFile: output, encoding: .utf8).split(whereSeparator: \.isWhitespace).compactMap { Int32($0) }
            #expect(fields.count == 2)
            #expect(fields.first == child.pid)
            #expect(fields.last == (own ? child.pid : getpgrp()), "own process group: \(own)")
        }
    }
}
