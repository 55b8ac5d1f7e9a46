import Foundation
import LeafConfig
import LeafCron

/// A run the scheduler decided to start.
public struct PlannedRun: Sendable, Equatable {
    /// Why it runs.
    public var trigger: RunTrigger
    /// The fire time the run answers (for `after` jobs: the dependency's success).
    public var scheduledFor: Date?
    /// 1 for the first attempt, 2 for the first retry, …
    public var attempt: Int = 1
    /// Earlier fire times this run stands in for (after downtime).
    public var missed: [Date] = []

    /// A planned run with the given parts.
    public init(trigger: RunTrigger, scheduledFor: Date?, attempt: Int = 1, missed: [Date] = []) {
        self.trigger = trigger; self.scheduledFor = scheduledFor; self.attempt = attempt; self.missed = missed
    }
}

/// What a tick should do about one job.
public enum TickDecision: Sendable, Equatable {
    /// Nothing is due.
    case idle
    /// The job is new to the catalog: fire times before now are not run, as cron would not.
    case startTracking
    case run(PlannedRun)
    /// Fire times passed that will not be run; record them and move on.
    case missed(fires: [Date], reason: String)
    /// Due, but held back (a dependency, a retry's backoff); the reason is for the log.
    case waiting(String)
}

/// Decides, from a job's schedule and policy and the catalog's memory, what a tick at
/// `now` does. Pure: every input is a value, so tests drive it at any injected instant.
public enum SchedulePlanner {
    /// At most this many fire times are looked at per job and tick (a minutely job down for
    /// almost a week); older ones are counted as missed with the rest.
    static let fireLimit = 10_000

    /// - Parameter successes: the start of each `after` dependency's latest successful run.
    public static func decide(job: JobDefinition, state: JobScheduleState?, now: Date, successes: [String: Date]) -> TickDecision {
        let policy = job.policy
        guard job.schedule != nil || !policy.after.isEmpty else { return .idle }
        guard let state else { return .startTracking }

        let fires = job.schedule.map { dueFires($0, timeZone: job.timeZone, after: state.handledFire, upTo: now) } ?? []

        // A pending retry runs unless a newer fire time superseded it.
        if fires.isEmpty, let at = state.retryAt {
            guard at <= now else { return .waiting("retry \(state.retryAttempt - 1) of \(policy.retries) waits until \(iso(at))") }
            return .run(PlannedRun(trigger: .retry, scheduledFor: state.retryFire, attempt: state.retryAttempt))
        }

        guard job.schedule != nil else {
            // An unscheduled job runs once each time all its dependencies have succeeded anew.
            let starts = policy.after.compactMap { successes[$0] }
            guard starts.count == policy.after.count, let newest = starts.max(),
                starts.allSatisfy({ $0 > state.handledFire })
            else { return .idle }
            return .run(PlannedRun(trigger: .after, scheduledFor: newest))
        }

        guard let latest = fires.last else { return .idle }
        let earlier = Array(fires.dropLast())
        let age = now.timeIntervalSince(latest)
        switch policy.catchUp {
        case .none where age > policy.currentFireGrace:
            return .missed(fires: fires, reason: "catch_up: none, and the latest was due at \(iso(latest))")
        case .latest:
            guard let deadline = policy.startingDeadline, age > deadline else { break }
            return .missed(fires: fires, reason: "not started within starting_deadline \(duration(deadline)) of \(iso(latest))")
        default:
            break
        }
        // The window of a fire time opens at the fire time before it.
        let windowStart = earlier.last ?? state.handledFire
        for dependency in policy.after {
            guard let success = successes[dependency], success > windowStart else {
                return .waiting("waits for '\(dependency)' to succeed after \(iso(windowStart))")
            }
        }
        let onTime = earlier.isEmpty && age <= policy.currentFireGrace
        return .run(PlannedRun(trigger: onTime ? .schedule : .catchUp, scheduledFor: latest, missed: earlier))
    }

    /// Fire times after `after` up to and including `upTo`, oldest first (at most `fireLimit`,
    /// the newest kept).
    /// The oldest fire time of `job` that passed more than `grace` ago with no run started
    /// and no miss recorded for it: the scheduler is not running (no tick), or is stuck.
    /// Nil when the job is unscheduled, not tracked yet, or up to date.
    public static func overdue(job: JobDefinition, state: JobScheduleState?, now: Date, grace: TimeInterval = 600) -> Date? {
        guard let schedule = job.schedule, let state else { return nil }
        return schedule.nextFireTimes(after: state.handledFire, count: 1, timeZone: job.timeZone, notAfter: now.addingTimeInterval(-grace)).first
    }

    static func dueFires(_ schedule: CronExpression, timeZone: TimeZone, after: Date, upTo: Date) -> [Date] {
        var out: [Date] = []
        var cursor = after
        while true {
            let batch = schedule.nextFireTimes(after: cursor, count: 512, timeZone: timeZone, notAfter: upTo)
            out += batch
            guard let last = batch.last, batch.count == 512 else { break }
            cursor = last
            if out.count > fireLimit * 4 { break }
        }
        return out.count > fireLimit ? Array(out.suffix(fireLimit)) : out
    }

    /// Jobs in an order where every job comes after the jobs it waits for.
    public static func dependencyOrder(_ jobs: [JobDefinition]) -> [JobDefinition] {
        let names = Set(jobs.map(\.name))
        var done = Set<String>()
        var out: [JobDefinition] = []
        var remaining = jobs
        while !remaining.isEmpty {
            let ready = remaining.filter { $0.policy.after.allSatisfy { done.contains($0) || !names.contains($0) } }
            let next = ready.isEmpty ? remaining : ready  // a cycle is rejected when jobs load
            for j in next { done.insert(j.name); out.append(j) }
            remaining.removeAll { done.contains($0.name) }
        }
        return out
    }
}

func iso(_ date: Date) -> String {
    let f = ISO8601DateFormatter()
    return f.string(from: date)
}

func duration(_ seconds: TimeInterval) -> String {
    if seconds >= 86400, seconds.truncatingRemainder(dividingBy: 86400) == 0 { return "\(Int(seconds / 86400))d" }
    if seconds >= 3600, seconds.truncatingRemainder(dividingBy: 3600) == 0 { return "\(Int(seconds / 3600))h" }
    if seconds >= 60, seconds.truncatingRemainder(dividingBy: 60) == 0 { return "\(Int(seconds / 60))m" }
    return seconds == seconds.rounded() ? "\(Int(seconds))s" : String(format: "%gs", seconds)
}
