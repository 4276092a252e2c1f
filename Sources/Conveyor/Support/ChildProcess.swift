import Foundation
import Synchronization

/// A child process (a local redis-server for `conveyor dev`, processes under test), started with
/// posix_spawn and reaped with waitpid.
///
/// Two reasons not to use Foundation's `Process` here: a child spawned from a Swift concurrency
/// thread inherits that thread's blocked signal mask and then ignores SIGTERM; and
/// `Process.waitUntilExit()` blocks a cooperative thread until a run loop notices the exit. This type
/// starts children with no signal blocked and default dispositions, and waits without blocking.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    private let status = Mutex<Int32?>(nil)

    /// Starts `executable` (looked up on PATH) with `arguments`, stdin from the file `stdin` (or
    /// /dev/null) and stdout/stderr to the given files (or /dev/null).
    ///
    /// With `ownProcessGroup` the child leads a process group of its own (setpgid(0, 0), POSIX
    /// `posix_spawnattr_setpgroup`), so a terminal's Ctrl-C, which signals the whole foreground group,
    /// reaches this process only: the servers `conveyor dev` starts must outlive its graceful
    /// shutdown, and it stops them last. Without it the child stays in this process's group (test
    /// children die with a Ctrl-C of the test run).
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, stdin: String? = nil, stdout: String? = nil,
        stderr: String? = nil, ownProcessGroup: Bool = false
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o644)
        // Nothing else is inherited (glibc 2.34+): SwiftNIO's and hiredis's sockets are not
        // close-on-exec, and a child holding a copy of a connection keeps it open after this process
        // closes it (no FIN reaches the peer), or keeps a listening port bound after its server stopped.
        _ = ChildProcess.closeFrom?(&actions, 3)
        // Threads of the test process may block signals; the child must start with none blocked
        // and default dispositions, or it would ignore the SIGTERM a test sends it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if ownProcessGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let env = (environment ?? ProcessInfo.processInfo.environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in env { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, executable, &actions, &attributes, argv, env)
        guard result == 0 else {
            throw NSError(
                domain: "ChildProcess", code: Int(result),
                userInfo: [NSLocalizedDescriptionKey: "cannot start \(executable): \(String(cString: strerror(result)))"])
        }
        self.pid = pid
        ChildProcess.onStart.withLock { $0?(pid) }
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+; Debian 12 has 2.36), looked up at
    /// run time: Swift's Glibc module leaves out the GNU extensions of spawn.h.
    /// Without it (an older glibc) children inherit this process's descriptors, as before; said once
    /// on stderr.
    private static let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else {
            FileHandle.standardError.write(
                Data(
                    "conveyor: this C library has no posix_spawn_file_actions_addclosefrom_np (glibc 2.34+): child processes inherit this process's sockets\n"
                        .utf8))
            return nil
        }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// Called with the pid of every child started (the tests use it to kill leftovers at exit).
    public static let onStart = Mutex<(@Sendable (pid_t) -> Void)?>(nil)

    /// The exit status (or 128 + signal), once the process has exited.
    public var exitStatus: Int32? {
        if let known = status.withLock({ $0 }) { return known }
        var raw: Int32 = 0
        let reaped = waitpid(pid, &raw, WNOHANG)
        guard reaped == pid else { return nil }
        let code = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        status.withLock { $0 = code }
        return code
    }

    public var isRunning: Bool { exitStatus == nil }

    public func signal(_ signal: Int32) { kill(pid, signal) }

    /// Polls for the exit without blocking a thread; nil if still running after `timeout` seconds.
    public func waitForExit(timeout: Double = 30) async -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let code = exitStatus { return code }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return exitStatus
    }

    /// Sends SIGTERM and waits up to `timeout` seconds for the exit; SIGKILL after that.
    public func stop(timeout: Double = 10) {
        guard isRunning else { return }
        signal(SIGTERM)
        if waitSynchronously(timeout: timeout) == nil {
            signal(SIGKILL)
            _ = waitSynchronously()
        }
    }

    /// Blocks (briefly) until the process exits: for a process just sent SIGTERM or SIGKILL.
    public func waitSynchronously(timeout: Double = 10) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let code = exitStatus { return code }
            usleep(5_000)
        }
        return exitStatus
    }
}
