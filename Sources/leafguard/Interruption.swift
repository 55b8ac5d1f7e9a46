import Dispatch
import Foundation
import LeafConcurrency

/// Ctrl-C and SIGTERM for a command whose work can stop cleanly at safe points (a restore
/// removes its scratch folder and leaves the target as it was). The first signal is noted
/// and the work asked to stop; a second one ends the process at once, as without this.
/// Job runs have their own handling (RunSupervisor), which records the run interrupted.
enum Interruption {
    private static let received = Locked<Int32>(0)

    /// Starts listening for SIGINT and SIGTERM.
    static func install() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                // From here on a second signal is not caught: it ends the process.
                signal(SIGINT, SIG_DFL); signal(SIGTERM, SIG_DFL)
                received.withLock { if $0 == 0 { $0 = sig } }
            }
            source.resume()
            // A released source is cancelled: these live as long as the process.
            _ = Unmanaged.passRetained(source as AnyObject)
        }
    }

    /// The signal received (SIGINT or SIGTERM), 0 while none has been.
    static var signalReceived: Int32 { received.value }

    /// The exit status of a command stopped by the signal received (130, 143).
    static var exitStatus: Int32 { 128 + signalReceived }
}
