import Conveyor
import Foundation
import HTTPTypes
import Hummingbird

extension ConveyorAPI {
    /// `/v1/schedules…`: list, create, read, replace, delete, pause, resume, run now.
    func addScheduleRoutes(to router: Router<ConveyorRequestContext>) {
        router.get("/v1/schedules") { request, _ in
            _ = try QueryInput(request, allowed: [])
            return JSONResponse.make(["schedules": try await self.broker.schedules().map(\.jsonObject)])
        }
        router.post("/v1/schedules") { request, _ in
            let schedule = try await self.scheduleBody(request, name: nil)
            if try await self.broker.schedule(schedule.name) != nil {
                throw APIProblem(
                    .conflict, "schedule '\(schedule.name)' exists; PUT /v1/schedules/\(schedule.name) replaces it", field: "name")
            }
            try await self.broker.upsertSchedule(schedule)
            var response = JSONResponse.make(try await self.scheduleObject(schedule.name), status: .created)
            response.headers[.location] = "/v1/schedules/" + schedule.name
            return response
        }
        router.get("/v1/schedules/:name") { _, context in JSONResponse.make(try await self.scheduleObject(try Self.scheduleName(context))) }
        router.put("/v1/schedules/:name") { request, context in
            let schedule = try await self.scheduleBody(request, name: try Self.scheduleName(context, mustExist: false))
            let created = try await self.broker.upsertSchedule(schedule)
            return JSONResponse.make(try await self.scheduleObject(schedule.name), status: created ? .created : .ok)
        }
        router.delete("/v1/schedules/:name") { _, context in
            let name = try Self.scheduleName(context)
            guard try await self.broker.removeSchedule(name) else { throw APIProblem(.notFound, "no schedule '\(name)'", field: "name") }
            return JSONResponse.make(["name": name, "deleted": true])
        }
        router.post("/v1/schedules/:name/pause") { _, context in
            let name = try Self.scheduleName(context)
            _ = try await self.scheduleObject(name)
            try await self.broker.pauseSchedule(name)
            return JSONResponse.make(try await self.scheduleObject(name))
        }
        router.post("/v1/schedules/:name/resume") { _, context in
            let name = try Self.scheduleName(context)
            _ = try await self.scheduleObject(name)
            try await self.broker.resumeSchedule(name)
            return JSONResponse.make(try await self.scheduleObject(name))
        }
        router.post("/v1/schedules/:name/run") { _, context in
            let name = try Self.scheduleName(context)
            guard let id = try await self.broker.runSchedule(name) else {
                throw APIProblem(.notFound, "no schedule '\(name)'", field: "name")
            }
            var response = JSONResponse.make(["name": name, "id": id], status: .created)
            response.headers[.location] = "/v1/jobs/" + id
            return response
        }
    }

    static func scheduleName(_ context: ConveyorRequestContext, mustExist: Bool = true) throws(APIProblem) -> String {
        let name = context.parameters.get("name") ?? ""
        guard Names.isValid(name) else {
            if mustExist { throw APIProblem(.notFound, "no schedule '\(name.prefix(100))'", field: "name") }
            throw APIProblem.invalid("name", "schedule name '\(name.prefix(100))' must be 1-100 characters of A-Z a-z 0-9 _ . -")
        }
        return name
    }

    func scheduleObject(_ name: String) async throws -> [String: Any] {
        guard let info = try await broker.schedule(name) else { throw APIProblem(.notFound, "no schedule '\(name)'", field: "name") }
        return info.jsonObject
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
