import ArgumentParser
import Conveyor
import Foundation
import Logging

/// Entry point: parses arguments, runs the command, and turns errors into one line and an exit code
/// (2 for bad flags or input, 1 for runtime failures).
@main
enum ConveyorMain {
    static func main() async {
        keepLibmongocOutOfSharedMemory()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            let level = ProcessInfo.processInfo.environment["CONVEYOR_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
            handler.logLevel = level ?? .info
            return handler
        }
        let command: any ParsableCommand
        do {
            command = try ConveyorCommand.parseAsRoot()
        } catch {
            let code = ConveyorCommand.exitCode(for: error)
            if code == .success { ConveyorCommand.exit(withError: error) }
            let message = ConveyorCommand.message(for: error).split(separator: "\n").first.map(String.init) ?? "invalid arguments"
            FileHandle.standardError.write(Data("conveyor: \(message)\n".utf8))
            exit(2)
        }
        do {
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                var command = command
                try command.run()
            }
        } catch let error as ConveyorError where error.code == .invalidArgument {
            FileHandle.standardError.write(Data("conveyor: \(error.message)\n".utf8))
            exit(2)
        } catch let error as ExitCode {
            exit(error.rawValue)
        } catch {
            // `conveyor help ...` runs ArgumentParser's help command, which throws its request.
            if ConveyorCommand.exitCode(for: error) == .success { ConveyorCommand.exit(withError: error) }
            FileHandle.standardError.write(Data("conveyor: \(error)\n".utf8))
            exit(1)
        }
    }
}

/// Debian's libmongoc initialises itself when the binary loads (before `main`, in every command, even
/// `enqueue`) and keeps its counters in `/dev/shm/mongoc-<pid>`, which only `mongoc_cleanup()` removes:
/// a killed process leaves it behind, and a later process with the same pid warns "Falling back to
/// malloc for counters". The counters serve only the `mongoc-stat` tool, and `MONGOC_DISABLE_SHM`
/// keeps them in ordinary memory, but libmongoc reads it at load time. So: without the variable, set
/// it, remove the file this image's libmongoc just made, and re-execute this binary once (same pid,
/// same arguments). Should exec fail, the file is removed at exit instead.
func keepLibmongocOutOfSharedMemory() {
    guard getenv("MONGOC_DISABLE_SHM") == nil else { return }
    let file = "/mongoc-\(getpid())"
    _ = shm_unlink(file)
    setenv("MONGOC_DISABLE_SHM", "1", 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    atexit { _ = shm_unlink("/mongoc-\(getpid())") }
}

/// The `conveyor` command and its subcommands.
struct ConveyorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conveyor",
        abstract: "A Redis-native job broker and worker cluster.",
        version: ConveyorVersion.current,
        subcommands: [
            EnqueueCommand.self, WorkerCommand.self, PromoterCommand.self, DevCommand.self, JobCommand.self,
            StatsCommand.self, DeadCommand.self, PauseCommand.self, ResumeCommand.self, CancelCommand.self, UpdateCommand.self,
            WorkersCommand.self, BenchCommand.self, BenchGRPCCommand.self, BenchGRPCFloorCommand.self, BenchEventsCommand.self,
            BenchClientCommand.self,
            ScheduleCommand.self,
            HistoryCommand.self, JobsCommand.self,
            ServeCommand.self,
            HealthCommand.self,
        ])
}
