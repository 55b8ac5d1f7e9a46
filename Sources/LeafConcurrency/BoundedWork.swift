import Dispatch

/// Work run on up to `width` threads at once. `submit` waits for a free slot, so at most
/// `width` items (and the memory they hold) are in flight; `wait` returns once every
/// submitted item has finished.
///
/// The threads come from a concurrent dispatch queue, which on Linux grows past the core
/// count when workers wait on the disk or the network (`concurrentPerform` runs one thread
/// per core, and on two cores leaves the disk idle). This is the one helper for parallel
/// work: no other code starts threads or builds its own queue, group and semaphore.
public final class BoundedWork: Sendable {
    private let slots: DispatchSemaphore
    private let group = DispatchGroup()
    private let queue: DispatchQueue

    public init(width: Int, label: String = "leafguard.work") {
        slots = DispatchSemaphore(value: max(1, width))
        queue = DispatchQueue(label: label, attributes: .concurrent)
    }

    /// Runs `body` on a worker as soon as one is free; waits until then.
    public func submit(_ body: @escaping @Sendable () -> Void) {
        slots.wait()
        group.enter()
        queue.async { [slots, group] in
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
