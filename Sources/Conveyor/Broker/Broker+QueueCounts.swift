import RedisClient

extension Broker {
    /// Delayed (scheduled or retrying), running and dead jobs per queue, in one `HGETALL` of
    /// `{ns}:counts`: the scripts that move jobs keep these counters, so the read costs O(queues)
    /// whatever the number of jobs. Queues whose three counts are zero are left out.
    ///
    /// A namespace whose counters were never built (written by a version without them) has them
    /// built once, here, from a scan of the delayed, inflight and dead sets in one atomic script
    /// (see ``rebuildQueueCounts(force:)``).
    public func queueCounts() async throws -> [String: QueueCounts] {
        var fields = try await pool.command("HGETALL", keys.counts).fieldMap ?? [:]
        if fields["ready"] == nil {
            try await rebuildQueueCounts(force: false)
            fields = try await pool.command("HGETALL", keys.counts).fieldMap ?? [:]
        }
        return Self.queueCounts(fields: fields)
    }

    /// Builds the per-queue counters from the jobs in one atomic script when they are not built yet
    /// (or always, with `force`). It reads every delayed, running and dead job once: 2.5-4 s of
    /// Redis per million such jobs, during which Redis serves nothing else (past Redis's busy-script
    /// threshold, 5 s by default, other clients get BUSY errors until it ends); the counters are exact
    /// from then on. ``prepare()`` calls it, so on a new namespace it costs nothing.
    /// - Returns: the number of jobs counted, or nil when the counters were built already.
    @discardableResult
    public func rebuildQueueCounts(force: Bool) async throws -> Int? {
        // EVAL with a reply timeout of its own: on a large namespace the script runs for seconds,
        // longer than the command timeout (it runs once; the source is sent each time).
        let command: [[UInt8]] = [
            "EVAL", scripts.rebuildCounts.source, "4", keys.counts, keys.delayed, keys.inflight, keys.dead,
            keys.prefix, force ? "force" : "",
        ].map { $0.redisBytes }
        var reply = RedisValue.null
        for attempt in 0..<1_200 {
            reply = try await pool.withConnection { connection in
                try connection.send(command, timeoutMilliseconds: 600_000)
            }
            // Another process's rebuild past Redis's busy threshold: wait for it, then find it done.
            guard case .error(let message) = reply, message.hasPrefix("BUSY"), attempt < 1_199 else { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        if case .error(let message) = reply { throw ConveyorError(.redis, "rebuild-counts: \(message)") }
        guard let counted = reply.int else { throw ConveyorError(.redis, "rebuild-counts: unexpected reply \(reply)") }
        return counted < 0 ? nil : counted
    }

    /// Reads the `{ns}:counts` fields (`delayed:<queue>`, `running:<queue>`, `dead:<queue>`).
    static func queueCounts(fields: [String: String]) -> [String: QueueCounts] {
        var counts: [String: QueueCounts] = [:]
        for (field, value) in fields {
            guard let colon = field.firstIndex(of: ":"), let n = Int(value), n != 0 else { continue }
            let queue = String(field[field.index(after: colon)...])
            switch field[..<colon] {
            case "delayed": counts[queue, default: QueueCounts()].delayed = n
            case "running": counts[queue, default: QueueCounts()].running = n
            case "dead": counts[queue, default: QueueCounts()].dead = n
            default: continue
            }
        }
        return counts
    }
}
