import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A child process started with posix_spawn: in a process group of its own (so a timeout
/// stops everything it started), with exactly the environment given, standard input from a
/// pipe, standard output and error to /dev/null, and no other descriptor of leafguard's
/// (every descriptor above 2 is marked close-on-exec first).
struct ChildProcess {
    let pid: pid_t
    /// The write end of the child's standard input; the caller writes and closes it.
    let stdinWriter: Int32

    enum Ending: Equatable {
        case exited(Int32)
        case signalled(Int32)
        case timedOut
    }

    struct SpawnError: Error, CustomStringConvertible { let description: String }

    static func spawn(_ path: String, _ arguments: [String], environment: [String: String]) throws -> ChildProcess {
        _ = ignoreBrokenPipes
        markDescriptorsCloseOnExec()
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw SpawnError(description: "pipe: \(String(cString: strerror(errno)))") }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)  // dup2 onto 0 clears it on the copy the child keeps
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[0], 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var none = sigset_t(); sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t(); sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        close(fds[0])
        guard rc == 0 else { close(fds[1]); throw SpawnError(description: "posix_spawn \(path): \(String(cString: strerror(rc)))") }
        return ChildProcess(pid: pid, stdinWriter: fds[1])
    }

    /// Waits up to `timeout`; past it, kills the child's whole process group.
    func wait(timeout: TimeInterval) -> Ending {
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return Self.ending(status) }
            if r < 0 && errno != EINTR { return .exited(-1) }
            if Date() >= deadline { break }
            usleep(5_000)
        }
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return .timedOut
    }

    static func ending(_ status: Int32) -> Ending {
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signalled(signal)
    }

    /// Writing the summary to a hook that has already exited raises SIGPIPE, whose default
    /// action ends leafguard in the middle of its hooks (seen in CI as exit status 13). Ignored
    /// once per process; the write then fails with EPIPE, which the writer drops.
    static let ignoreBrokenPipes: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    /// Sets FD_CLOEXEC on every open descriptor above standard error.
    static func markDescriptorsCloseOnExec() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return }
        for name in names { if let fd = Int32(name), fd > 2 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) } }
    }
}
