/// What a process knows about the master its sentinels watch: the last address and an epoch that
/// advances each time the address changes.
///
/// A pure value (no I/O, no locks) so the failover rules are unit-tested without Redis. Connections
/// remember the epoch they connected in; a newer epoch makes them reconnect before their next command.
public struct RedisSentinelState: Sendable, Equatable {
    /// The master's address as last reported (nil before the first answer).
    public private(set) var master: RedisSentinelConfiguration.Address?
    /// Advances by one each time ``master`` changes to a different address.
    public private(set) var epoch: Int = 0

    public init() {}

    /// Records the address a sentinel answered to `SENTINEL get-master-addr-by-name`.
    ///
    /// - Returns: true when it differs from the known master (the epoch advanced).
    public mutating func resolved(_ address: RedisSentinelConfiguration.Address) -> Bool {
        guard address != master else { return false }
        let hadMaster = master != nil
        master = address
        if hadMaster { epoch += 1 }
        return hadMaster
    }

    /// Applies a `+switch-master` message, `<name> <old-ip> <old-port> <new-ip> <new-port>`.
    ///
    /// - Returns: true when the message names `masterName` and moved the master (the epoch advanced);
    ///   false for another master's message, a malformed one, or a switch to the address already known.
    public mutating func switchMaster(message: String, masterName: String) -> Bool {
        let words = message.split(separator: " ").map(String.init)
        guard words.count == 5, words[0] == masterName, let port = Int(words[4]), (1...65535).contains(port) else { return false }
        let address = RedisSentinelConfiguration.Address(host: words[3], port: port)
        guard address != master else { return false }
        master = address
        epoch += 1
        return true
    }
}
