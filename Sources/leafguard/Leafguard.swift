import ArgumentParser
import Foundation
import LeafConfig
import LeafFiles
import LeafJobs
import LeafKeys
import LeafReports

/// The leafguard command. Exit status: 0 success, 1 a job, step or operation failed,
/// 2 bad usage or configuration.
@main
struct Leafguard: ParsableCommand {
    static let version = LeafguardVersion.current

    static let configuration = CommandConfiguration(
        commandName: "leafguard",
        abstract: "Encrypted, erasure-coded backups, key rotation and compliance scans for leafplanner data.",
        version: version,
        subcommands: [
            Demo.self, Init.self, SelfCheck.self, Run.self, Backup.self, Prune.self, Tick.self, History.self, Audit.self, Reports.self, Jobs.self,
            Snapshots.self, Restore.self,
            Replicate.self, Verify.self, Ls.self, Find.self, Diff.self, Stats.self, Unlock.self, Scan.self, Report.self, Keys.self, Cron.self,
        ]
    )

    static func main() {
        hardenProcess()
        tuneAllocator()
        do {
            // `--read-data` alone means all of it: the parser has no optional-value options.
            let arguments = CommandLine.arguments.dropFirst().map { $0 == "--read-data" ? "--read-data=100" : $0 }
            // An unknown command is named as such (the parser would complain about the first option after it).
            if let first = arguments.first, !first.hasPrefix("-"), first != "help",
                !configuration.subcommands.contains(where: { $0._commandName == first })
            {
                printError(
                    "error: unknown command '\(first)'; commands: \(configuration.subcommands.filter { $0.configuration.shouldDisplay }.map { $0._commandName }.joined(separator: ", "))"
                )
                Foundation.exit(2)
            }
            if let message = Self.groupWithoutSubcommand(Array(arguments)) {
                printError(message)
                Foundation.exit(2)
            }
            var command = try parseAsRoot(Array(arguments))
            try command.run()
            if warnAboutRefusedWrites() { Foundation.exit(3) }
        } catch {
            Foundation.exit(Self.status(for: error))
        }
    }

    /// A command group (`snapshots`, `keys`, …) given an option or an unknown word where its
    /// subcommand belongs: the parser would say "Unknown option '--config'", which does not
    /// tell a newcomer that `snapshots` wants `list` first. Nil when the words are fine.
    static func groupWithoutSubcommand(_ arguments: [String]) -> String? {
        var command: any ParsableCommand.Type = Leafguard.self
        var path = ["leafguard"]
        for (i, word) in arguments.enumerated() {
            let subcommands = command.configuration.subcommands
            if let next = subcommands.first(where: { $0._commandName == word }) {
                command = next
                path.append(word)
                continue
            }
            // The root's own unknown words are named in main(); help is the parser's.
            guard path.count > 1, !subcommands.isEmpty, command.configuration.defaultSubcommand == nil,
                !["-h", "--help", "help"].contains(word)
            else { return nil }
            let names = subcommands.filter { $0.configuration.shouldDisplay }.map { $0._commandName }
            let what = word.hasPrefix("-") ? "an option (\(word))" : "'\(word)', which is not one of its subcommands"
            let example = ([path.joined(separator: " "), names.first ?? "SUBCOMMAND"] + arguments[i...]).joined(separator: " ")
            return "error: '\(path.joined(separator: " "))' is a group of commands and was given \(what); "
                + "its subcommands: \(names.joined(separator: ", ")), e.g. '\(example)'"
        }
        return nil
    }

    /// Maps an error to the documented exit status, printing it for a person.
    static func status(for error: any Error) -> Int32 {
        switch error {
        case let e as ConfigurationError:
            printError(e.problems.map { "error: \($0)" }.joined(separator: "\n"))
            return 2
        case let e as ExitCode:
            return e.rawValue
        case let e as KeyError where e.isConfiguration:
            printError("error: \(e.message)")
            return 2
        case let e as FileError:
            printError("error: \(e.description)")
            return e.refused ? 2 : 1
        case let e as CommandFailure:
            if !e.message.isEmpty { printError("error: \(e.message)") }
            return e.status
        default:
            let code = exitCode(for: error)
            let text = fullMessage(for: error)
            if code == .success {
                print(text)
                return 0
            }
            if !text.isEmpty { printError(text.lowercased().hasPrefix("error") || text.hasPrefix("Usage") ? text : "error: \(text)") }
            // Argument-parser usage and validation errors (its status 64) are bad usage: 2.
            return code == .validationFailure ? 2 : 1
        }
    }
}

/// A failure a command reports with a chosen exit status.
struct CommandFailure: Error, CustomStringConvertible {
    let message: String
    let status: Int32
    init(_ message: String, status: Int32 = 1) { self.message = message; self.status = status }
    /// The message, as the audit log and people read it (never Swift's debug form).
    var description: String { message.isEmpty ? "exit status \(status)" : message }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Before anything else: no core dumps and no backtrace with register contents (a crash
/// must not write the master key anywhere), files private by default (umask 077: 0600
/// files, 0700 folders), and not attachable or readable through /proc by other users.
/// The Swift backtracer reads SWIFT_BACKTRACE when the runtime starts, so leafguard
/// re-executes itself once with it set.
func hardenProcess() {
    #if os(Linux)
        if getenv("SWIFT_BACKTRACE") == nil {
            setenv("SWIFT_BACKTRACE", "enable=no", 1)
            let argv = CommandLine.arguments.map { strdup($0) } + [nil]
            execv("/proc/self/exe", argv)
            // exec failed: go on without it rather than not at all.
        }
        var none = rlimit(rlim_cur: 0, rlim_max: 0)
        _ = setrlimit(Int32(RLIMIT_CORE.rawValue), &none)
        _ = glibcPrctl(4, 0, 0, 0, 0)  // PR_SET_DUMPABLE, 0
    #endif
    umask(0o077)
    // A hook that exits without reading its standard input must not kill leafguard:
    // writes to a closed pipe fail with EPIPE instead (children get the default back).
    signal(SIGPIPE, SIG_IGN)
}

#if os(Linux)
    /// prctl(2) with five integer arguments (the C declaration is variadic).
    @_silgen_name("prctl")
    func glibcPrctl(_ option: Int32, _ a2: UInt, _ a3: UInt, _ a4: UInt, _ a5: UInt) -> Int32
#endif

/// glibc adapts its mmap threshold upwards after large frees, which fragments memory when
/// several threads allocate and free pack-sized buffers (2.6 GB peak was measured). Fixed
/// thresholds keep pack buffers on reusable heap memory and cap the number of arenas.
func tuneAllocator() {
    #if os(Linux)
        _ = glibcMallopt(-8, 2)  // M_ARENA_MAX
        _ = glibcMallopt(-3, 32 << 20)  // M_MMAP_THRESHOLD
        _ = glibcMallopt(-1, 16 << 20)  // M_TRIM_THRESHOLD
    #endif
}

#if os(Linux)
    /// glibc's mallopt(3); <malloc.h> is not part of Swift's Glibc module.
    @_silgen_name("mallopt")
    func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
