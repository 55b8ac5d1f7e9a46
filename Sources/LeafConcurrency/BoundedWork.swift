import Dispatch

/// Work run on up to `width` threads at once. `submit` waits for a free slot, so at most
/// `width` items (and the memory they hold) are in flight; `wait` returns once every
/// submitted item has finished.
///
/// Each item runs on a serial queue of its own. On Linux a serial queue targets
/// libdispatch's overcommit pool, which gives every runnable queue a thread at once, so
/// `width` items that wait on the disk or the network really are in flight together. A
/// concurrent queue (or `concurrentPerform`) draws from the pool sized to the core count,
/// which adds threads for blocked workers only when its monitor notices, and on two cores
/// kept three S3 requests in flight where eight were asked for. This is the one helper for
/// parallel work: no other code starts threads or builds its own queue, group and semaphore.
public final class BoundedWork: Sendable {
    private let slots: DispatchSemaphore
    private let group = DispatchGroup()
    private let label: String

    /// At most `width` items in flight; `label` names their queues in a debugger.
    public init(width: Int, label: String = "leafguard.work") {
        slots = DispatchSemaphore(value: max(1, width))
        self.label = label
    }

    /// Runs `body` on a worker as soon as one is free; waits until then.
    public func submit(_ body: @escaping @Sendable () -> Void) {
        slots.wait()
        group.enter()
        // A queue per item is a few hundred bytes; items here are packs, shards and files.
        DispatchQueue(label: label).async { [slots, group] in
            defer { slots.signal(); group.leave() }
            body()
        }
    }

    /// Waits for every submitted item.
    public func wait() { group.wait() }
}

/// Runs `body(i)` for every `i` in `0..<count` on up to `width` threads, and returns when
/// all have finished. Results go into a `Locked` the caller owns. (`body` is escaping: a
/// dispatched block may release its closure just after the group is left, which
/// `withoutActuallyEscaping` rightly calls an escape.)
public func parallelForEach(_ count: Int, width: Int, _ body: @escaping @Sendable (Int) -> Void) {
    guard count > 0 else { return }
    if count == 1 || width <= 1 {
        for i in 0..<count { body(i) }
        return
    }
    let work = BoundedWork(width: min(width, count))
    for i in 0..<count { work.submit { body(i) } }
    work.wait()
}
