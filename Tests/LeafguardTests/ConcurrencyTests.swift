import Dispatch
import Foundation
import LeafConcurrency
import Testing

/// The one helper for parallel work keeps its promise of `width` items in flight, even
/// when every item blocks (as a pack copy blocks on S3), on a machine with two cores.
@Suite struct BoundedWorkTests {
    /// Each of `width` items waits until all `width` have started. On a pool sized to the
    /// core count this fails (libdispatch's monitor adds a thread for blocked workers about
    /// once a second); the overcommit queues start them all at once.
    @Test(arguments: [8, 32]) func widthItemsThatAllBlockRunTogether(width: Int) {
        let started = Locked(0)
        let allHere = DispatchSemaphore(value: 0)
        let missed = Locked(0)
        parallelForEach(width, width: width) { _ in
            let n = started.withLock {
                $0 += 1; return $0
            }
            if n == width { for _ in 0..<width - 1 { allHere.signal() }; return }
            // Generous: this waits only for threads to start, never for work.
            if allHere.wait(timeout: .now() + 2) == .timedOut { missed.withLock { $0 += 1 } }
        }
        #expect(missed.value == 0, "\(missed.value) of \(width) items waited for a thread")
        #expect(started.value == width)
    }

    @Test func submitNeverHasMoreThanWidthInFlight() {
        let work = BoundedWork(width: 3)
        let inFlight = Locked(0)
        let most = Locked(0)
        let done = Locked(0)
        for _ in 0..<30 {
            work.submit {
                let now = inFlight.withLock {
                    $0 += 1; return $0
                }
                most.withLock { $0 = max($0, now) }
                usleep(2000)
                inFlight.withLock { $0 -= 1 }
                done.withLock { $0 += 1 }
            }
        }
        work.wait()
        #expect(done.value == 30)
        #expect(most.value <= 3)
    }
}
