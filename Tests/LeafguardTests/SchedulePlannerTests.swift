import Foundation
import LeafConfig
import LeafCron
import LeafScheduler
import Testing

/// The scheduler's decisions at injected clocks: what a tick at a given instant runs.
@Suite struct SchedulePlannerTests {
    func job(_ schedule: String?, zone: String = "UTC", policy: (inout RunPolicy) -> Void = { _ in }) throws -> JobDefinition {
        var p = RunPolicy()
        policy(&p)
        var j = JobDefinition(
            name: "j", file: "j.yml", description: nil, schedule: try schedule.map(CronExpression.init),
            timeZone: TimeZone(identifier: zone)!, timeZoneName: zone, steps: [])
        j.policy = p
        return j
    }

    func at(_ s: String) -> Date { ISO8601DateFormatter().date(from: s)! }
    func state(_ handled: String) -> JobScheduleState { JobScheduleState(handledFire: at(handled), retryAt: nil, retryAttempt: 0, retryFire: nil) }

    /// Ticks every `step` seconds (five minutes) from `from` to `to` (claiming each run as the catalog would)
    /// and returns the fire times that ran.
    func simulate(_ j: JobDefinition, from: String, to: String, step: TimeInterval = 300, successes: [String: Date] = [:]) -> [Date] {
        var s = state(from)
        var ran: [Date] = []
        var now = at(from)
        while now <= at(to) {
            now = now.addingTimeInterval(step)
            if case .run(let planned) = SchedulePlanner.decide(job: j, state: s, now: now, successes: successes), let fire = planned.scheduledFor {
                ran.append(fire)
                s.handledFire = fire
            }
        }
        return ran
    }

    @Test func aNewJobStartsTrackingInsteadOfRunningPastFireTimes() throws {
        #expect(SchedulePlanner.decide(job: try job("* * * * *"), state: nil, now: Date(), successes: [:]) == .startTracking)
        #expect(SchedulePlanner.decide(job: try job(nil), state: nil, now: Date(), successes: [:]) == .idle)
    }

    @Test func berlinSpringForwardRunsTheSkippedTimeOnceRightAfterTheChange() throws {
        // 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00Z); 02:30 does not exist.
        let j = try job("30 2 * * *", zone: "Europe/Berlin")
        #expect(simulate(j, from: "2026-03-28T12:00:00Z", to: "2026-03-29T12:00:00Z") == [at("2026-03-29T01:00:00Z")])
    }

    @Test func berlinFallBackRunsTheRepeatedTimeOnce() throws {
        // 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens at 00:30Z and 01:30Z.
        let j = try job("30 2 * * *", zone: "Europe/Berlin")
        #expect(simulate(j, from: "2026-10-24T12:00:00Z", to: "2026-10-25T12:00:00Z") == [at("2026-10-25T00:30:00Z")])
        // A wildcard-hour job follows the wall clock: the repeated hour runs twice.
        let hourly = try job("15 * * * *", zone: "Europe/Berlin")
        #expect(simulate(hourly, from: "2026-10-24T23:00:00Z", to: "2026-10-25T02:00:00Z").count == 3)
    }

    @Test func newYorkBothWays() throws {
        // 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00Z).
        let spring = try job("30 2 * * *", zone: "America/New_York")
        #expect(simulate(spring, from: "2026-03-07T12:00:00Z", to: "2026-03-08T12:00:00Z") == [at("2026-03-08T07:00:00Z")])
        // 2026-11-01: 02:00 EDT becomes 01:00 EST; 01:30 happens at 05:30Z and 06:30Z.
        let fall = try job("30 1 * * *", zone: "America/New_York")
        #expect(simulate(fall, from: "2026-10-31T12:00:00Z", to: "2026-11-01T12:00:00Z") == [at("2026-11-01T05:30:00Z")])
    }

    @Test func leapDayAndMonthEnds() throws {
        let leap = try job("0 12 29 2 *")
        #expect(SchedulePlanner.decide(job: leap, state: state("2027-03-01T00:00:00Z"), now: at("2028-02-28T23:00:00Z"), successes: [:]) == .idle)
        #expect(leap.schedule!.nextFireTimes(after: at("2025-03-01T00:00:00Z"), count: 1, timeZone: leap.timeZone) == [at("2028-02-29T12:00:00Z")])
        #expect(simulate(leap, from: "2028-02-28T00:00:00Z", to: "2028-03-01T00:00:00Z") == [at("2028-02-29T12:00:00Z")])
        // The 31st: April and June have none.
        let monthEnd = try job("0 0 31 * *")
        #expect(simulate(monthEnd, from: "2026-03-31T06:00:00Z", to: "2026-07-01T00:00:00Z", step: 6 * 3600) == [at("2026-05-31T00:00:00Z")])
    }

    @Test func dayOfMonthOrDayOfWeek() throws {
        // cron runs "0 9 13 * fri" on every 13th and on every Friday.
        let j = try job("0 9 13 * fri")
        let ran = simulate(j, from: "2026-10-12T00:00:00Z", to: "2026-10-24T00:00:00Z")
        #expect(ran == [at("2026-10-13T09:00:00Z"), at("2026-10-16T09:00:00Z"), at("2026-10-23T09:00:00Z")])
    }

    @Test func threeDaysOfDowntimeUnderEachCatchUpPolicy() throws {
        let handled = "2026-06-01T02:30:00Z"
        let now = at("2026-06-04T10:00:00Z")
        let latest = try job("30 2 * * *")
        #expect(
            SchedulePlanner.decide(job: latest, state: state(handled), now: now, successes: [:])
                == .run(
                    PlannedRun(
                        trigger: .catchUp, scheduledFor: at("2026-06-04T02:30:00Z"),
                        missed: [at("2026-06-02T02:30:00Z"), at("2026-06-03T02:30:00Z")])))
        let none = try job("30 2 * * *") { $0.catchUp = .none }
        guard case .missed(let fires, let reason) = SchedulePlanner.decide(job: none, state: state(handled), now: now, successes: [:]) else {
            Issue.record("catch_up none should record missed runs"); return
        }
        #expect(fires.count == 3 && reason.contains("catch_up: none"))
        // On time, a catch_up: none job runs.
        if case .run = SchedulePlanner.decide(job: none, state: state(handled), now: at("2026-06-04T02:30:40Z"), successes: [:]) {
        } else {
            Issue.record("an on-time run must start")
        }
        let deadline = try job("30 2 * * *") { $0.startingDeadline = 2 * 3600 }
        guard case .missed(let f2, let r2) = SchedulePlanner.decide(job: deadline, state: state(handled), now: now, successes: [:]) else {
            Issue.record("starting_deadline should record missed runs"); return
        }
        #expect(f2.count == 3 && r2.contains("starting_deadline 2h"))
        // Within the deadline, the latest runs.
        if case .run(let p) = SchedulePlanner.decide(job: deadline, state: state(handled), now: at("2026-06-04T04:00:00Z"), successes: [:]) {
            #expect(p.scheduledFor == at("2026-06-04T02:30:00Z"))
        } else {
            Issue.record("within the deadline the latest fire runs")
        }
    }

    @Test func afterWaitsForTheDependencysSuccessInTheSameWindow() throws {
        let report = try job("30 6 * * *") { $0.after = ["scan"] }
        let s = state("2026-06-01T06:30:00Z")
        let now = at("2026-06-02T06:30:10Z")
        // Yesterday's scan does not count; today's does.
        guard case .waiting(let why) = SchedulePlanner.decide(job: report, state: s, now: now, successes: ["scan": at("2026-06-01T06:00:00Z")]) else {
            Issue.record("must wait"); return
        }
        #expect(why.contains("scan"))
        #expect(
            SchedulePlanner.decide(job: report, state: s, now: now, successes: [:])
                != .run(PlannedRun(trigger: .schedule, scheduledFor: at("2026-06-02T06:30:00Z"))))
        #expect(
            SchedulePlanner.decide(job: report, state: s, now: now, successes: ["scan": at("2026-06-02T06:00:00Z")])
                == .run(PlannedRun(trigger: .schedule, scheduledFor: at("2026-06-02T06:30:00Z"))))
        // Without a schedule: once per new success of every dependency.
        let chained = try job(nil) { $0.after = ["scan"] }
        let t = at("2026-06-02T06:00:05Z")
        #expect(SchedulePlanner.decide(job: chained, state: state("2026-06-02T06:00:05Z"), now: t, successes: ["scan": t]) == .idle)
        #expect(
            SchedulePlanner.decide(job: chained, state: state("2026-06-01T00:00:00Z"), now: t, successes: ["scan": t])
                == .run(PlannedRun(trigger: .after, scheduledFor: t)))
    }

    @Test func retriesWaitForTheirBackoff() throws {
        let j = try job("0 3 * * *") {
            $0.retries = 3; $0.retryBackoff = 600
        }
        #expect(j.policy.backoff(beforeAttempt: 2) == 600)
        #expect(j.policy.backoff(beforeAttempt: 3) == 1200)
        #expect(j.policy.backoff(beforeAttempt: 4) == 2400)
        var s = state("2026-06-02T03:00:00Z")
        s.retryAt = at("2026-06-02T03:20:00Z"); s.retryAttempt = 3; s.retryFire = at("2026-06-02T03:00:00Z")
        guard case .waiting = SchedulePlanner.decide(job: j, state: s, now: at("2026-06-02T03:19:00Z"), successes: [:]) else {
            Issue.record("a retry waits for its backoff"); return
        }
        #expect(
            SchedulePlanner.decide(job: j, state: s, now: at("2026-06-02T03:20:30Z"), successes: [:])
                == .run(PlannedRun(trigger: .retry, scheduledFor: at("2026-06-02T03:00:00Z"), attempt: 3)))
        // The next fire time supersedes a retry still pending.
        if case .run(let p) = SchedulePlanner.decide(job: j, state: s, now: at("2026-06-03T03:00:20Z"), successes: [:]) {
            #expect(p.trigger == .schedule && p.attempt == 1)
        } else {
            Issue.record("the next fire must run")
        }
    }

    @Test func dependenciesComeFirst() throws {
        var a = try job("* * * * *");
        a = JobDefinition(name: "report", file: "", description: nil, schedule: a.schedule, timeZone: a.timeZone, timeZoneName: "UTC", steps: [])
        a.policy.after = ["scan"]
        let b = JobDefinition(name: "scan", file: "", description: nil, schedule: nil, timeZone: a.timeZone, timeZoneName: "UTC", steps: [])
        #expect(SchedulePlanner.dependencyOrder([a, b]).map(\.name) == ["scan", "report"])
    }
}
