import Conveyor
import Testing

/// The ConveyorTests target needs at least one source file to build; these check the Swift mirror of
/// the Lua backoff (`RetryPolicy.delay`) that the integration tests compare against.
@Suite("RetryPolicy delays")
struct RetryPolicyTests {
    @Test("fixed, exponential with cap, jitter bounds, none")
    func delays() {
        #expect(RetryPolicy.fixed(milliseconds: 50).delay(afterAttempt: 3, random: 0.9) == 50)
        let exponential = RetryPolicy.exponential(baseMilliseconds: 20, maxMilliseconds: 70)
        #expect((1...5).map { exponential.delay(afterAttempt: $0, random: 0) } == [20, 40, 70, 70, 70])
        let jittered = RetryPolicy.fixed(milliseconds: 100, jitter: 0.5)
        #expect(jittered.delay(afterAttempt: 1, random: 0) == 50)
        #expect(jittered.delay(afterAttempt: 1, random: 0.999) == 99)
        #expect(RetryPolicy.none.delay(afterAttempt: 4, random: 0.5) == 0)
        #expect(RetryPolicy(encoded: exponential.encoded) == exponential)
    }
}
