import Conveyor
import Foundation
import HTTPTypes
import Hummingbird

extension ConveyorAPI {
    func listSchedules(_ request: Request) async throws -> Response {
        _ = try QueryInput(request, allowed: [])
        return try JSONResponse.make(try await schedules())
    }

    func createSchedule(_ request: Request) async throws -> Response {
        let schedule = try await createSchedule(try await scheduleBody(request, name: nil))
        var response = try JSONResponse.make(schedule, status: .created)
        response.headers[.location] = "/v1/schedules/" + schedule.name
        return response
    }

    func putSchedule(_ request: Request, name: String) async throws -> Response {
        let (schedule, created) = try await putSchedule(try await scheduleBody(request, name: name))
        return try JSONResponse.make(schedule, status: created ? .created : .ok)
    }

    /// Removes a schedule; 404 when there is none.
    public func deleteSchedule(_ name: String) async throws -> DeletedBody {
        guard try await broker.removeSchedule(name) else { throw APIProblem(.notFound, "no schedule '\(name)'", field: "name") }
        return DeletedBody(name: name)
    }

    /// Pauses or resumes a schedule; 404 when there is none.
    public func pauseSchedule(_ name: String, paused: Bool) async throws -> ScheduleBody {
        _ = try await scheduleInfo(name)
        if paused { try await broker.pauseSchedule(name) } else { try await broker.resumeSchedule(name) }
        return try await scheduleInfo(name)
    }

    func runScheduleNow(_ name: String) async throws -> Response {
        let run = try await runSchedule(name)
        var response = try JSONResponse.make(run, status: .created)
        response.headers[.location] = "/v1/jobs/" + run.id
        return response
    }

    static func scheduleName(_ context: ConveyorRequestContext, mustExist: Bool = true) throws(APIProblem) -> String {
        let name = context.parameters.get("name") ?? ""
        guard Names.isValid(name) else {
            if mustExist { throw APIProblem(.notFound, "no schedule '\(name.prefix(100))'", field: "name") }
            throw APIProblem.invalid("name", "schedule name '\(name.prefix(100))' must be 1-100 characters of A-Z a-z 0-9 _ . -")
        }
        return name
    }

    /// One schedule as the API shows it; 404 when there is none.
    public func scheduleInfo(_ name: String) async throws -> ScheduleBody {
        guard let info = try await broker.schedule(name) else { throw APIProblem(.notFound, "no schedule '\(name)'", field: "name") }
        return ScheduleBody(info)
    }

    /// A schedule definition: `name` (POST only), `expression` (cron, macro or `every 30s`), `tz`,
    /// `start`, `misfire`, `no_overlap`, and the job template's fields.
    func scheduleBody(_ request: Request, name pathName: String?) async throws -> Schedule {
        let input = try JSONInput(body: try await Self.body(request, limit: broker.configuration.maxPayloadBytes + 65_536))
        var extra: Set<String> = ["expression", "tz", "start", "misfire", "no_overlap"]
        if pathName == nil { extra.insert("name") }
        let job = try input.enqueueRequest(maxPayloadBytes: broker.configuration.maxPayloadBytes, allowTiming: false, extra: extra)
        let name: String
        if let pathName {
            name = pathName
        } else {
            guard let given = try input.string("name", required: true), Names.isValid(given) else {
                throw APIProblem.invalid("name", "'name' must be 1-100 characters of A-Z a-z 0-9 _ . -")
            }
            name = given
        }
        guard let expression = try input.string("expression", required: true) else {
            throw APIProblem.invalid("expression", "'expression' is required")
        }
        let misfire = try input.enumeration("misfire", MisfirePolicy.self, choices: ["skip", "one", "all"]) ?? .skip
        let schedule = Schedule(
            name: name, expression: expression, timeZone: try input.string("tz"), start: try input.date("start"), misfire: misfire,
            noOverlap: try input.bool("no_overlap") ?? false, job: job)
        do { try schedule.validate(maxPayloadBytes: broker.configuration.maxPayloadBytes) } catch {
            let field = error.message.contains("time zone") ? "tz" : error.message.hasPrefix("schedule name") ? "name" : "expression"
            throw APIProblem.invalid(field, error.message)
        }
        return schedule
    }
}
