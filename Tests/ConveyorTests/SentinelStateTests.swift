import RedisClient
import Testing

@Suite("Redis Sentinel: addresses and the master state")
struct SentinelStateTests {
    @Test("CONVEYOR_REDIS_SENTINELS parses host:port lists, IPv6 in brackets, and a default port")
    func addresses() throws {
        let parsed = try RedisSentinelConfiguration.addresses("10.0.0.1:26379, sentinel-2:26380,[::1]:26381,sentinel-4")
        #expect(parsed.map(\.description) == ["10.0.0.1:26379", "sentinel-2:26380", "[::1]:26381", "sentinel-4:26379"])
        for bad in ["", ",", "host:", "host:0", "host:99999", ":26379", "[::1]:x"] {
            #expect(throws: RedisError.self, "\(bad)") { try RedisSentinelConfiguration.addresses(bad) }
        }
    }

    @Test("the epoch advances when the master moves, not on the first answer or a repeated one")
    func resolved() {
        var state = RedisSentinelState()
        let first = RedisSentinelConfiguration.Address(host: "127.0.0.1", port: 6379)
        var moved = state.resolved(first)
        #expect(!moved && state.epoch == 0 && state.master == first)
        moved = state.resolved(first)
        #expect(!moved && state.epoch == 0)
        moved = state.resolved(.init(host: "127.0.0.1", port: 6380))
        #expect(moved && state.epoch == 1)
    }

    @Test("+switch-master moves the master named in it and ignores other masters and malformed messages")
    func switchMaster() {
        var state = RedisSentinelState()
        _ = state.resolved(.init(host: "10.0.0.1", port: 6379))
        for ignored in ["other 10.0.0.1 6379 10.0.0.2 6379", "main 10.0.0.1 6379", "main 10.0.0.1 6379 10.0.0.2 port"] {
            let moved = state.switchMaster(message: ignored, masterName: "main")
            #expect(!moved, "\(ignored)")
        }
        #expect(state.epoch == 0)
        var moved = state.switchMaster(message: "main 10.0.0.1 6379 10.0.0.2 6380", masterName: "main")
        #expect(moved && state.master == .init(host: "10.0.0.2", port: 6380) && state.epoch == 1)
        // The same switch told by a second sentinel changes nothing.
        moved = state.switchMaster(message: "main 10.0.0.1 6379 10.0.0.2 6380", masterName: "main")
        #expect(!moved && state.epoch == 1)
    }
}
