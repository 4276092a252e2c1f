import ArgumentParser
import Conveyor
import ConveyorHistory
import ConveyorServer
import Foundation
import Logging

/// A MongoDB client for one CLI command (`CONVEYOR_MONGO_URL`); server selection gives up after 2 s
/// unless the URL sets its own timeout.
func historyClient(_ global: GlobalOptions) throws -> MongoClient {
    var configuration = MongoConfiguration.fromEnvironment(global.environment)
    if !configuration.url.lowercased().contains("serverselectiontimeoutms") {
        configuration.url += (configuration.url.contains("?") ? "&" : "?") + "serverSelectionTimeoutMS=2000"
    }
    configuration.threads = 1
    do { return try MongoClient(configuration: configuration, logger: Logger(label: "conveyor.mongo")) } catch let error as HistoryError {
        throw ConveyorError(.invalidArgument, "CONVEYOR_MONGO_URL: \(error.message)")
    }
}

/// `conveyor jobs`: jobs from the MongoDB history, newest first, one page at a time.
struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs", abstract: "List jobs from the history in MongoDB (CONVEYOR_MONGO_URL), newest first.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var output: OutputOptions
    @Option(help: "Only jobs in this state.") var state: JobState?
    @Option(help: "Only jobs of this type.") var type: String?
    @Option(help: "Only jobs of this queue.") var queue: String?
    @Option(help: "Jobs per page (1 to 1000).") var limit: Int = 100
    @Option(help: "The next_cursor of the previous page.") var cursor: String?

    func validate() throws {
        guard (1...1_000).contains(limit) else { throw ValidationError("--limit must be from 1 to 1000") }
    }

    func run() async throws {
        let mongo = try historyClient(global)
        let page: JobPage
        do {
            page = try await HistoryQueries(mongo: mongo).listJobs(
                filter: JobFilter(state: state?.rawValue, type: type, queue: queue), limit: limit, cursor: cursor)
        } catch {
            await mongo.close()
            FileHandle.standardError.write(Data("conveyor: cannot query MongoDB: \(error)\n".utf8))
            throw ExitCode(1)
        }
        await mongo.close()
        // The API's shape: plain JSON (RFC 3339 UTC dates), each document's _id as id.
        try output.print(JobPageBody(page: page)) {
            TextTable(
                header: ["ID", "TYPE", "QUEUE", "STATE", "ATTEMPTS", "CREATED", "LAST ERROR"],
                rows: page.jobs.map { document in
                    let job = document.historyJSONObject
                    func text(_ key: String) -> String { (job[key] as? String) ?? (job[key].map { "\($0)" } ?? "-") }
                    let attempts = (job["attempts"] as? [String: Any])?.count ?? 0
                    return [
                        text("_id"), text("type"), text("queue"), text("state"), String(attempts),
                        text("created_at").replacingOccurrences(of: "T", with: " "), TextTable.cut(job["last_error"] as? String, 50),
                    ]
                }, footer: page.nextCursor.map { ["next page: --cursor \($0)"] } ?? [], empty: "no jobs")
        }
    }
}

/// Why `conveyor job` could not ask MongoDB.
struct HistoryUnavailable: Error {
    let message: String
}

/// The job's history document with a `timeline` array, as `GET /v1/jobs/{id}` shows it, or nil when
/// MongoDB has none; throws `HistoryUnavailable` when MongoDB cannot be asked.
func historyJob(_ id: String, global: GlobalOptions) async throws -> JobDetailBody? {
    let mongo: MongoClient
    do { mongo = try historyClient(global) } catch let error as ConveyorError { throw HistoryUnavailable(message: error.message) }
    let found: (job: Document, timeline: [Document])?
    do { found = try await HistoryQueries(mongo: mongo).job(id) } catch {
        await mongo.close()
        throw HistoryUnavailable(message: "\(error)")
    }
    await mongo.close()
    guard let (document, timeline) = found else { return nil }
    return .history(document: document.historyJSONObject, id: id, timeline: timeline.map(\.historyJSONObject))
}
