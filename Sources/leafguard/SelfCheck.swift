import ArgumentParser
import Foundation

extension Leafguard {
    /// `leafguard self-check`: prints what `hardenProcess` set, read back from the kernel
    /// (hidden: for the tests and for an operator checking a host).
    struct SelfCheck: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "self-check", abstract: "Print the process hardening in force.", shouldDisplay: false)

        func run() throws {
            let limits = (try? String(contentsOfFile: "/proc/self/limits", encoding: .utf8)) ?? ""
            let core = limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") }.map { String($0) } ?? "?"
            let mask = umask(0o077)
            print("core: \(core.split(separator: " ", omittingEmptySubsequences: true).dropFirst(4).prefix(2).joined(separator: " "))")
            print("dumpable: \(glibcPrctl(3, 0, 0, 0, 0))")  // PR_GET_DUMPABLE
            print("umask: \(String(mask, radix: 8))")
            print("backtrace: \(ProcessInfo.processInfo.environment["SWIFT_BACKTRACE"] ?? "unset")")
        }
    }
}
