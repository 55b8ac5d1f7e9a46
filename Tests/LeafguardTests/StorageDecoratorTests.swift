import Foundation
import LeafConcurrency
import LeafStorage
import LeafTestSupport
import Testing

/// The decorators any store can wear: retries with backoff and jitter (RetryingStore) and a
/// limit on operations in flight (LimitedStore). Both also run the whole storage contract in
/// ObjectStoreContractTests.
@Suite struct StorageDecoratorTests {
    /// A policy that records its waits instead of sleeping.
    final class Waits: Sendable {
        let seconds = Locked<[Double]>([])
        var policy: RetryPolicy { RetryPolicy(attempts: 4, base: 0.1, cap: 0.25) { [seconds] s in seconds.withLock { $0.append(s) } } }
    }

    @Test func transientFailuresAreRetriedWithCappedJitterUntilTheAttemptsAreSpent() throws {
        let inner = MemoryStore(name: "r/loc0")
        try inner.put("data/x", [1, 2, 3])
        let faulty = FaultyStore(inner, faults: [.flaky(.get, nth: 1, every: 1)])
        let waits = Waits()
        let store = RetryingStore(faulty, policy: waits.policy)
        #expect { try store.get("data/x") } throws: { e in
            guard case StorageError.unavailable(let location, let reason) = e else { return false }
            return location == "r/loc0" && reason.contains("throttled") && reason.hasSuffix("(after 4 attempts)")
        }
        #expect(faulty.count(.get) == 4)
        let w = waits.seconds.value
        // Full jitter under base × 2^(n−1), capped: at most 0.1, 0.2, then 0.25.
        try #require(w.count == 3)
        #expect(w[0] <= 0.1 && w[1] <= 0.2 && w[2] <= 0.25 && w.allSatisfy { $0 >= 0 }, "\(w)")

        // Two throttled calls, then the answer.
        faulty.faults = [.flaky(.get, nth: 5), .flaky(.get, nth: 6)]
        #expect(try store.get("data/x") == [1, 2, 3])
        #expect(faulty.count(.get) == 7)
    }

    /// A region's server gone: the first call spends its attempts and trips the region's
    /// breaker; every call of every store sharing it then makes one attempt, until a call
    /// succeeds or the hold-off has passed. A store with its own breaker is not affected.
    @Test func aDeadServerCostsOneRoundOfRetriesPerRegion() throws {
        let clock = Locked<TimeInterval>(1000)
        let breaker = CircuitBreaker(holdOff: 60) { clock.value }
        let gone: [FaultyStore.Fault] = [.flaky(.get, nth: 1, every: 1)]
        let faulty = (0..<3).map { FaultyStore(MemoryStore(name: "r/loc\($0)"), faults: gone) }
        let stores = faulty.map { RetryingStore($0, policy: Waits().policy, breaker: breaker) }
        #expect(throws: StorageError.self) { try stores[0].get("config") }
        #expect(faulty[0].count(.get) == 4 && breaker.isOpen)
        for i in [1, 2] {
            #expect { try stores[i].get("config") } throws: { e in
                guard case StorageError.unavailable(let location, let reason) = e else { return false }
                return location == "r/loc\(i)" && reason.contains("one attempt")
            }
            #expect(faulty[i].count(.get) == 1, "one attempt, no backoff")
        }
        // A store of another region (its own breaker) still retries in full.
        let other = FaultyStore(MemoryStore(name: "s/loc0"), faults: gone)
        #expect(throws: StorageError.self) { try RetryingStore(other, policy: Waits().policy, breaker: CircuitBreaker()).get("config") }
        #expect(other.count(.get) == 4)

        // The server back: the first call that succeeds closes the breaker.
        try faulty[1].put("config", [1])
        faulty[1].faults = []
        #expect(try stores[1].get("config") == [1])
        #expect(!breaker.isOpen)
        // Past the hold-off, a dead server is retried in full again.
        #expect(throws: StorageError.self) { try stores[2].get("config") }
        #expect(faulty[2].count(.get) == 1 + 4 && breaker.isOpen)
        clock.withLock { $0 += 61 }
        #expect(!breaker.isOpen)
        #expect(throws: StorageError.self) { try stores[0].get("config") }
        #expect(faulty[0].count(.get) == 4 + 4)
    }

    @Test func otherFailuresAreFinalAtOnce() throws {
        let faulty = FaultyStore(MemoryStore(name: "r/loc1"), faults: [.fail(.list, nth: 1)])
        let store = RetryingStore(faulty, policy: Waits().policy)
        #expect(throws: StorageError.unavailable(location: "r/loc1", reason: "injected: list call 1 failed")) { try store.list(prefix: "") }
        #expect(throws: StorageError.notFound(location: "r/loc1", key: "data/none")) { try store.get("data/none") }
        #expect(faulty.count(.list) == 1 && faulty.count(.get) == 1)
    }

    /// The write landed and the answer was lost: the retry finds the object, with exactly
    /// its bytes, and the put is done. Someone else's object under the name is still refused.
    @Test func aPutWhoseAnswerWasLostIsDoneAndAnotherObjectIsStillRefused() throws {
        let inner = MemoryStore(name: "r/loc2")
        let faulty = FaultyStore(inner, faults: [.answerLost(.put, nth: 1)])
        let store = RetryingStore(faulty, policy: Waits().policy)
        try store.put("data/a", [7, 7])
        #expect(try inner.get("data/a") == [7, 7] && faulty.count(.put) == 2 && faulty.count(.holds) == 1)

        try inner.put("data/b", [1])
        faulty.faults = [.flaky(.put, nth: 3)]
        #expect(throws: StorageError.alreadyExists(location: "r/loc2", key: "data/b")) { try store.put("data/b", [2]) }
        #expect(try inner.get("data/b") == [1])
        // Without an earlier failure, an existing object is refused without a read.
        faulty.faults = []
        #expect(throws: StorageError.alreadyExists(location: "r/loc2", key: "data/b")) { try store.put("data/b", [1]) }
        #expect(faulty.count(.holds) == 2)
    }

    @Test func aDeleteWhoseAnswerWasLostIsDone() throws {
        let inner = MemoryStore(name: "r/loc3")
        try inner.put("locks/x", [1])
        let faulty = FaultyStore(inner, faults: [.answerLost(.delete, nth: 1)])
        let store = RetryingStore(faulty, policy: Waits().policy)
        try store.delete("locks/x")
        #expect(try inner.size(of: "locks/x") == nil && faulty.count(.delete) == 2)
        #expect(throws: StorageError.notFound(location: "r/loc3", key: "locks/x")) { try store.delete("locks/x") }
    }

    /// A store that notes how many calls are inside it at once. Each stays 20 ms, or, with
    /// `gather`, until that many are inside together (at most 10 s).
    final class InFlightProbe: ObjectStore, Sendable {
        let name = "probe"
        let gather: Int?
        let state = Locked<(now: Int, most: Int)>((0, 0))
        init(gather: Int? = nil) { self.gather = gather }
        var capabilities: StoreCapabilities { .localFolder }
        func get(_ key: String, maximumSize: Int) throws -> [UInt8] {
            state.withLock {
                $0.now += 1; $0.most = max($0.most, $0.now)
            }
            if let gather {
                waitUntil(timeout: 10, every: 0.001) { state.value.most >= gather }
            } else {
                usleep(20_000)
            }
            state.withLock { $0.now -= 1 }
            return []
        }
        func put(_ key: String, _ bytes: [UInt8]) throws {}
        func size(of key: String) throws -> Int? { nil }
        func list(prefix: String) throws -> [String] { [] }
        func delete(_ key: String) throws {}
        func replace(_ key: String, _ bytes: [UInt8]) throws {}
        func delete(many keys: [String]) throws {}
        func holds(_ key: String, exactly bytes: [UInt8]) throws -> Bool { false }
        func sync() throws {}
    }

    /// Two locations sharing one limit of 3 never have more than 3 calls in flight together,
    /// however many workers call them.
    @Test func aSharedLimitHoldsAcrossTheStoresThatShareIt() throws {
        let probe = InFlightProbe()
        let limit = RequestLimit(width: 3)
        let stores = [LimitedStore(probe, limit: limit), LimitedStore(probe, limit: limit)]
        parallelForEach(24, width: 24) { i in _ = try? stores[i % 2].get("x") }
        let most = probe.state.value.most
        #expect(most >= 1 && most <= 3, "\(most) calls in flight")
        // Without the limit the same workers are many at once, which the probe does see.
        let free = InFlightProbe(gather: 4)
        parallelForEach(24, width: 24) { _ in _ = try? free.get("x") }
        #expect(free.state.value.most >= 4)
    }
}
